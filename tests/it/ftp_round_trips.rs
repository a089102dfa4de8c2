//! Round trips per file: the commands phiscan sends while crawling a real
//! server (libunftp), counted by a proxy on the control connection. On a
//! distant server every reply costs a round trip, so each command beyond the
//! protocol's minimum (a data connection and a RETR per file) slows the
//! crawl of many small files.

use crate::common;

use common::{start_scripted, Node, Script};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

/// Commands sent on each control connection, in order, by connection.
type CommandLog = Arc<Mutex<Vec<Arc<Mutex<Vec<String>>>>>>;

/// A control-connection proxy in front of `upstream` that forwards bytes
/// both ways unchanged and records each command line the client sends.
/// Data connections go straight to the server (clients connect to the port
/// EPSV/PASV names, on the control connection's peer).
fn start_counting_proxy(upstream: u16) -> (u16, CommandLog) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log: CommandLog = Arc::default();
    let connections = log.clone();
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let commands = Arc::new(Mutex::new(Vec::new()));
            connections.lock().unwrap().push(commands.clone());
            let (Ok(mut from_server), Ok(mut to_client)) = (server.try_clone(), client.try_clone())
            else {
                continue;
            };
            thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n @ 1..) = from_server.read(&mut buf) {
                    if to_client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = to_client.shutdown(Shutdown::Both);
            });
            thread::spawn(move || {
                let (mut from_client, mut to_server) = (client, server);
                let mut buf = [0u8; 16 * 1024];
                let mut line = Vec::new();
                while let Ok(n @ 1..) = from_client.read(&mut buf) {
                    for &b in &buf[..n] {
                        if b == b'\n' {
                            let text = String::from_utf8_lossy(&line).trim().to_string();
                            commands.lock().unwrap().push(text);
                            line.clear();
                        } else {
                            line.push(b);
                        }
                    }
                    if to_server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = to_server.shutdown(Shutdown::Both);
            });
        }
    });
    (port, log)
}

fn verb(command: &str) -> String {
    command
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

/// Where each command went: logging in, listing a folder, or fetching a file.
#[derive(Debug, Default)]
struct Tally {
    connections: usize,
    files: usize,
    listings: usize,
    /// Commands spent on files (the RETR and what prepared it).
    file_commands: usize,
    /// Commands spent on listings (the MLSD/LIST and what prepared it).
    listing_commands: usize,
    /// CWD and PWD over the whole crawl.
    cwd: usize,
    pwd: usize,
    /// Commands that neither log in nor serve a listing or a file.
    other: Vec<String>,
}

/// Sorts each connection's commands. A data command (RETR, MLSD, LIST) owns
/// the commands since the previous data command that prepared it (EPSV,
/// PASV, REST, SIZE, MDTM, CWD, NOOP ...); the log-in commands, PWD and
/// QUIT are set apart first. Also checks TYPE I comes exactly once on
/// each connection, before its first data command.
fn tally(log: &CommandLog) -> Tally {
    let mut t = Tally::default();
    for connection in log.lock().unwrap().iter() {
        let commands = connection.lock().unwrap().clone();
        t.connections += 1;
        let verbs: Vec<String> = commands.iter().map(|c| verb(c)).collect();
        let types: Vec<usize> = (0..verbs.len()).filter(|&i| verbs[i] == "TYPE").collect();
        assert_eq!(types.len(), 1, "one TYPE per connection: {commands:?}");
        assert_eq!(commands[types[0]], "TYPE I", "{commands:?}");
        let first_data = verbs
            .iter()
            .position(|v| matches!(v.as_str(), "RETR" | "MLSD" | "LIST" | "EPSV" | "PASV"));
        assert!(
            first_data.is_none_or(|d| types[0] < d),
            "TYPE I before any transfer: {commands:?}"
        );
        t.cwd += verbs.iter().filter(|v| *v == "CWD").count();
        t.pwd += verbs.iter().filter(|v| *v == "PWD").count();
        let mut pending: Vec<String> = Vec::new();
        for (command, v) in commands.iter().zip(&verbs) {
            match v.as_str() {
                // PWD: counted above (the login folder, asked once).
                "FEAT" | "USER" | "PASS" | "TYPE" | "QUIT" | "PWD" => {}
                "RETR" => {
                    t.files += 1;
                    t.file_commands += 1 + pending.len();
                    pending.clear();
                }
                "MLSD" | "LIST" => {
                    t.listings += 1;
                    t.listing_commands += 1 + pending.len();
                    pending.clear();
                }
                _ => pending.push(command.clone()),
            }
        }
        t.other.extend(pending);
    }
    t
}

/// Many small files in a few folders, as on a share of exports: each file
/// costs exactly EPSV + RETR, TYPE I is sent once per connection, and
/// nothing per file asks for what the MLSD listing already told (no SIZE,
/// MDTM, CWD, PWD, NOOP or REST).
#[test]
fn each_small_file_costs_one_epsv_and_one_retr() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("share");
    let folders = ["a", "b", "b/deeper", "c d"];
    let per_folder = 12;
    for (i, folder) in folders.iter().enumerate() {
        std::fs::create_dir_all(root.join(folder)).unwrap();
        for j in 0..per_folder {
            std::fs::write(
                root.join(folder).join(format!("note{j:02}.txt")),
                format!(
                    "visit {i}/{j}: patient seen, MRN {:08}\n",
                    10_000_000 + i * 100 + j
                ),
            )
            .unwrap();
        }
    }
    std::fs::write(root.join("top.txt"), "nothing here\n").unwrap();
    let files = folders.len() * per_folder + 1;
    let upstream = common::start_unftp(&root, None);

    for connections in [1, 3] {
        let (port, log) = start_counting_proxy(upstream);
        let out = common::scan(&[&format!("ftp://127.0.0.1:{port}/")], |c| {
            c.ftp.connections = connections
        });
        assert_eq!(
            out.summary.files_scanned,
            files as u64,
            "{:?}",
            out.skipped()
        );
        let t = tally(&log);
        assert!(t.connections >= 1 && t.connections <= connections, "{t:?}");
        assert_eq!(t.files, files, "{t:?}");
        // The root and each folder listed once.
        assert_eq!(t.listings, folders.len() + 1, "{t:?}");
        assert!(t.other.is_empty(), "commands serving nothing: {t:?}");
        // The bound: one data connection and one RETR per file.
        assert_eq!(t.file_commands, 2 * files, "{t:?}");
        // Listings: a data connection and `MLSD folder` each; CWD only
        // into the root (which may be a file).
        assert_eq!(t.listing_commands, 2 * t.listings + 1, "{t:?}");
        assert_eq!(t.cwd, 1, "{t:?}");
        // PWD once (the login folder, for relative URLs), never per file.
        assert!(t.pwd <= 1, "{t:?}");
    }
}

/// Folders of three small files, for the scripted server.
fn three_folders() -> (Node, usize) {
    let mut root = Node::dir();
    for folder in ["x", "y", "y/z"] {
        for f in ["1.txt", "2.txt", "3.txt"] {
            root.add(format!("{folder}/{f}").as_bytes(), b"SSN 536-22-8145\n");
        }
    }
    (root, 9)
}

fn scripted_tally(script: Script) -> (Tally, common::Outcome) {
    let (port, log) = start_scripted(script);
    let out = common::scan(&[&format!("ftp://127.0.0.1:{port}/")], |c| {
        c.ftp.connections = 1
    });
    let commands: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|c| String::from_utf8_lossy(c).trim().to_string())
        .filter(|c| !c.starts_with('!'))
        .collect();
    let log: CommandLog = Arc::new(Mutex::new(vec![Arc::new(Mutex::new(commands))]));
    (tally(&log), out)
}

/// A server without MLSD: LIST takes no folder safely (many servers read
/// its argument as `ls` options), so each folder costs a CWD; files still
/// cost EPSV + RETR.
#[test]
fn list_servers_get_a_cwd_per_folder_and_nothing_more_per_file() {
    let (root, files) = three_folders();
    let (t, out) = scripted_tally(Script::new(root));
    assert_eq!(
        out.summary.files_scanned,
        files as u64,
        "{:?}",
        out.skipped()
    );
    assert_eq!(t.files, files, "{t:?}");
    assert_eq!(t.file_commands, 2 * files, "{t:?}");
    assert_eq!(t.listings, 4, "{t:?}");
    assert_eq!(t.listing_commands, 3 * t.listings, "{t:?}");
    assert!(t.other.is_empty(), "{t:?}");
}

/// A server whose MLSD lists only the working folder (refuses a folder
/// named): the first refusal is the only one; every folder is then
/// entered with CWD and listed with MLSD, and nothing is lost.
#[test]
fn mlsd_refusing_a_folder_argument_falls_back_to_cwd_once() {
    let (root, files) = three_folders();
    let mut script = Script::new(root);
    script.mlsd = true;
    script.mlsd_no_path = true;
    let (t, out) = scripted_tally(script);
    assert_eq!(
        out.summary.files_scanned,
        files as u64,
        "{:?}",
        out.skipped()
    );
    assert_eq!(t.file_commands, 2 * files, "{t:?}");
    // Four listings, each CWD + EPSV + MLSD, and one refused `MLSD folder`
    // (its EPSV answered, then the 501).
    assert_eq!(t.listings, 5, "{t:?}");
    assert_eq!(t.cwd, 4, "{t:?}");
    assert_eq!(t.listing_commands, 3 * 4 + 2, "{t:?}");
    assert!(t.other.is_empty(), "{t:?}");
}
