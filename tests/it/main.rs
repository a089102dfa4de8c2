//! The integration tests, in one binary: one link step instead of one per
//! file (ripgrep and Nosey Parker do the same).

mod check_facts;
mod cli_scan;
mod cli_ux;
mod common;
mod detect;
mod discover;
mod extract_docs;
mod extract_health;
mod extract_pdf;
mod ftp_cli;
mod ftp_client;
mod ftp_crawl;
mod ftp_hostile;
mod ftp_round_trips;
mod leaks;
mod limits;
mod ocr;
mod report_e2e;
mod report_fixtures;
mod report_html;
mod rules_examples;
mod safety;
mod scan_exposure;
mod shard;
mod text_view;
