//! stub
use super::Ctx;
use crate::error::ExtractError;
use std::io::Read;
pub fn looks_like(_head: &[u8]) -> bool { false }
pub fn scan(_ctx: &mut Ctx, _head: &[u8], _rest: &mut dyn Read) -> Result<(), ExtractError> { Ok(()) }
