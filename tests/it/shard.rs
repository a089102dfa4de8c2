//! `scan --shard I/N` and `merge`: N processes of the built binary, run
//! side by side as a scheduler would, then merged, against one unsharded
//! run of the same scan; and every set `merge` must refuse.

use crate::common::start_unftp;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const KEY: &str = "shard-test-key-0123456789abcdef";

fn phiscan() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("phiscan"));
    cmd.env("PHISCAN_FINGERPRINT_KEY", KEY);
    cmd
}

fn ok(out: &Output) {
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 3)),
        "status {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `count` shards at once (one process each); returns their folders.
fn run_shards(base: &Path, count: u32, args: &[&str]) -> Vec<PathBuf> {
    let mut children = Vec::new();
    let mut dirs = Vec::new();
    for i in 0..count {
        let dir = base.join(format!("shard-{i}"));
        let child = phiscan()
            .arg("scan")
            .args(args)
            .args(["--shard", &format!("{i}/{count}")])
            .args(["--format", "csv,jsonl", "-q", "--output-dir"])
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start shard");
        children.push(child);
        dirs.push(dir);
    }
    for child in children {
        ok(&child.wait_with_output().unwrap());
    }
    dirs
}

fn one_run(base: &Path, args: &[&str]) -> PathBuf {
    let dir = base.join("one");
    let out = phiscan()
        .arg("scan")
        .args(args)
        .args(["--format", "csv", "-q", "--output-dir"])
        .arg(&dir)
        .arg("--summary-json")
        .arg(dir.join("summary.json"))
        .output()
        .unwrap();
    ok(&out);
    dir
}

fn merge(out: &Path, dirs: &[PathBuf]) -> Output {
    phiscan()
        .args(["merge", "-q", "--format", "csv,jsonl,sarif", "--output-dir"])
        .arg(out)
        .args(dirs)
        .output()
        .unwrap()
}

/// The CSV's header and its rows sorted (an unsharded run writes rows in
/// the order files finish).
fn sorted_rows(csv: &Path) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(csv).unwrap();
    let mut lines = text.lines().map(str::to_string);
    let header = lines.next().unwrap_or_default();
    let mut rows: Vec<String> = lines.collect();
    rows.sort();
    (header, rows)
}

/// Everything the summary says, but the wall and clock times; the named examples
/// compared as a set (their order is the order files finished).
fn summary_facts(path: &Path) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let obj = v.as_object_mut().unwrap();
    obj.remove("elapsed_secs");
    // When each process ran: the merge keeps the earliest start and the
    // latest end, which one run's clock need not match.
    if let Some(run) = obj.get_mut("run").and_then(|r| r.as_object_mut()) {
        run.remove("started_at");
        run.remove("ended_at");
    }
    if let Some(serde_json::Value::Array(examples)) = obj.get_mut("not_examined_examples") {
        examples.sort_by_key(|e| e.to_string());
    }
    v
}

/// Merging gives one run's rows (sorted as merge sorts them) and summary.
fn assert_same_as_one_run(one: &Path, merged: &Path) {
    let (h1, r1) = sorted_rows(&one.join("phiscan.csv"));
    let (h2, r2) = sorted_rows(&merged.join("phiscan.csv"));
    assert_eq!(h1, h2);
    assert!(!r1.is_empty(), "the scan found nothing to compare");
    assert_eq!(r1, r2);
    let s1 = summary_facts(&one.join("summary.json"));
    let s2 = summary_facts(&merged.join("summary.json"));
    assert_eq!(s1, s2);
    // Merged rows are in merge's documented order, in every format.
    let mut rows = Vec::new();
    phiscan::report::read::read_report(
        &merged.join("phiscan.jsonl"),
        phiscan::report::read::Tail::Strict,
        &mut |f| rows.push(f),
    )
    .unwrap();
    assert_eq!(rows.len(), r1.len());
    assert!(rows
        .windows(2)
        .all(|w| { phiscan::merge::sort_key(&w[0]) <= phiscan::merge::sort_key(&w[1]) }));
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(merged.join("phiscan.sarif")).unwrap())
            .unwrap();
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len(),
        r1.len()
    );
}

/// A tree with PHI at every depth, files above and below the split depth,
/// an archive, a binary and an unreadable member.
fn make_tree(root: &Path, width: usize) {
    let ssn = |i: usize| format!("SSN: 219-09-{:04}\n", 1000 + i);
    std::fs::write(root.join("top.txt"), ssn(1)).unwrap();
    std::fs::write(root.join("123-45-6789 notes.txt"), "nothing here\n").unwrap();
    std::fs::write(root.join("logo.png"), b"\x89PNG\r\n\x1a\n\0\0\0binary").unwrap();
    for d in 0..width {
        for s in 0..3 {
            let dir = root.join(format!("dept{d}/year{s}"));
            std::fs::create_dir_all(&dir).unwrap();
            for f in 0..3 {
                std::fs::write(
                    dir.join(format!("p{f}.txt")),
                    format!("patient {d}-{s}-{f}\n{}", ssn(d * 100 + s * 10 + f)),
                )
                .unwrap();
            }
        }
        std::fs::write(
            root.join(format!("dept{d}/index.csv")),
            format!("name,ssn\nA,{}", ssn(d)),
        )
        .unwrap();
    }
    let zip_path = root.join("dept0/archive.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(zip_path).unwrap());
    zip.start_file::<_, ()>("inner/deep.txt", Default::default())
        .unwrap();
    std::io::Write::write_all(&mut zip, ssn(999).as_bytes()).unwrap();
    zip.finish().unwrap();
}

#[test]
fn local_tree_shards_merge_to_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("mirror");
    std::fs::create_dir(&tree).unwrap();
    make_tree(&tree, 6);
    let target = tree.to_str().unwrap();
    let one = one_run(tmp.path(), &[target]);
    for (count, depth) in [(3, "1"), (4, "2"), (2, "0"), (5, "3")] {
        let base = tmp.path().join(format!("n{count}-d{depth}"));
        let dirs = run_shards(&base, count, &[target, "--split-depth", depth]);
        let merged = base.join("merged");
        let out = merge(&merged, &dirs);
        assert!(
            matches!(out.status.code(), Some(1)),
            "N={count} D={depth}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_same_as_one_run(&one, &merged);
    }
}

/// Three FTP servers from a targets file (plus a local tree): exposure
/// rows once per server, files once each.
#[test]
fn ftp_servers_from_a_targets_file_shard_and_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lines = String::new();
    for s in 0..3 {
        let root = tmp.path().join(format!("srv{s}"));
        std::fs::create_dir(&root).unwrap();
        make_tree(&root, 2 + s);
        let port = start_unftp(&root, None);
        lines.push_str(&format!("ftp://127.0.0.1:{port}/\n"));
    }
    let targets = tmp.path().join("targets.txt");
    std::fs::write(&targets, lines).unwrap();
    let targets = targets.to_str().unwrap();
    let args = ["--targets", targets, "--connections", "2"];
    let one = one_run(tmp.path(), &args);
    for (count, depth) in [(3, "1"), (2, "0")] {
        let base = tmp.path().join(format!("n{count}-d{depth}"));
        let mut with_depth = args.to_vec();
        with_depth.extend(["--split-depth", depth]);
        let dirs = run_shards(&base, count, &with_depth);
        let merged = base.join("merged");
        let out = merge(&merged, &dirs);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_same_as_one_run(&one, &merged);
        let (_, rows) = sorted_rows(&merged.join("phiscan.csv"));
        let anonymous = rows.iter().filter(|r| r.contains("FTP_ANONYMOUS")).count();
        assert_eq!(anonymous, 3, "one anonymous-login row per server");
    }
}

/// One large FTP server whose files all sit in one top folder (`/data`):
/// at --split-depth 1 it is one unit, so one shard reads every file and
/// merge says the others idled; at depth 2 its subtrees are spread over
/// the shards. Both merge to one run's rows and counts.
#[test]
fn one_large_server_is_spread_by_a_deeper_split() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("srv");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    make_tree(&data, 5);
    let port = start_unftp(&root, None);
    let url = format!("ftp://127.0.0.1:{port}/");
    let one = one_run(tmp.path(), &[url.as_str()]);
    let total = summary_facts(&one.join("summary.json"))["files_scanned"]
        .as_u64()
        .unwrap();
    assert!(total > 20, "{total}");
    for depth in ["1", "2"] {
        let base = tmp.path().join(format!("d{depth}"));
        let dirs = run_shards(&base, 3, &[url.as_str(), "--split-depth", depth]);
        let files: Vec<u64> = dirs
            .iter()
            .map(|d| {
                summary_facts(&d.join("summary.json"))["files_scanned"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(files.iter().sum::<u64>(), total, "D={depth}: {files:?}");
        let merged = base.join("merged");
        let out = phiscan()
            .args(["merge", "--format", "csv,jsonl,sarif", "--output-dir"])
            .arg(&merged)
            .args(&dirs)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_same_as_one_run(&one, &merged);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if depth == "1" {
            assert_eq!(
                files.iter().filter(|&&n| n == total).count(),
                1,
                "{files:?}"
            );
            assert!(
                stderr.contains("2 of 3 shards read no file")
                    && stderr.contains("a deeper --split-depth"),
                "{stderr}"
            );
        } else {
            assert!(files.iter().all(|&n| n < total), "{files:?}");
        }
    }
}

fn refusal(out: &Output, says: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(says), "expected {says:?} in: {stderr}");
}

#[test]
fn merge_refuses_sets_that_are_not_one_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("mirror");
    std::fs::create_dir(&tree).unwrap();
    make_tree(&tree, 4);
    let target = tree.to_str().unwrap();
    let dirs = run_shards(&tmp.path().join("good"), 3, &[target]);
    let out = tmp.path().join("out");

    refusal(
        &merge(&out, &dirs[..2]),
        "shards missing: 1 of 3 (indexes 2)",
    );
    let twice = [
        dirs[0].clone(),
        dirs[1].clone(),
        dirs[1].clone(),
        dirs[2].clone(),
    ];
    refusal(&merge(&out, &twice), "shard 1/3 is given twice");
    refusal(
        &merge(&out, std::slice::from_ref(&tree)),
        "not a shard's output folder",
    );

    // Another shard count.
    let four = run_shards(&tmp.path().join("four"), 4, &[target]);
    let mixed = [dirs[0].clone(), dirs[1].clone(), four[2].clone()];
    refusal(&merge(&out, &mixed), "the shard count differs");

    // One shard with other settings, another key, another target set.
    let cases: [(&str, Vec<&str>, Option<&str>); 3] = [
        ("settings", vec![target, "--max-bytes", "100"], None),
        (
            "fingerprint key",
            vec![target],
            Some("another-key-0123456789abcdef"),
        ),
        ("target set", vec![target, "Cargo.toml"], None),
    ];
    for (what, args, key) in cases {
        let dir = tmp.path().join(format!("odd-{}", what.replace(' ', "-")));
        let mut cmd = phiscan();
        if let Some(k) = key {
            cmd.env("PHISCAN_FINGERPRINT_KEY", k);
        }
        let run = cmd
            .arg("scan")
            .args(&args)
            .args(["--shard", "2/3", "--format", "csv", "-q", "--output-dir"])
            .arg(&dir)
            .output()
            .unwrap();
        ok(&run);
        let set = [dirs[0].clone(), dirs[1].clone(), dir];
        refusal(&merge(&out, &set), what);
    }

    // The tree changed above the split depth between shards.
    std::fs::write(tree.join("late.txt"), "added after the other shards ran\n").unwrap();
    let late = run_shards(&tmp.path().join("late"), 3, &[target]);
    let set = [dirs[0].clone(), dirs[1].clone(), late[2].clone()];
    refusal(&merge(&out, &set), "listed different trees");
    assert!(
        !out.join("phiscan.csv").exists(),
        "a refused merge writes no report"
    );
}

/// A shard's report or summary cut short or garbled: merge stops with exit
/// status 2 and names the file (no panic, no partial report).
#[test]
fn merge_names_a_damaged_shard_file() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("mirror");
    std::fs::create_dir(&tree).unwrap();
    make_tree(&tree, 4);
    let dirs = run_shards(&tmp.path().join("good"), 2, &[tree.to_str().unwrap()]);
    let report = dirs[1].join("phiscan.jsonl");
    let whole = std::fs::read(&report).unwrap();
    let summary = dirs[0].join("summary.json");
    let cases: [(&Path, Vec<u8>); 4] = [
        (&report, whole[..whole.len() / 2].to_vec()),
        (&report, b"{\"type\":\"finding\",\"target\":1}\n".to_vec()),
        (&report, vec![0xff, 0xfe, b'\n']),
        (&summary, b"{\"files_scanned\": \"many\"".to_vec()),
    ];
    for (n, (file, bytes)) in cases.into_iter().enumerate() {
        let kept = std::fs::read(file).unwrap();
        std::fs::write(file, &bytes).unwrap();
        let out = tmp.path().join(format!("out-{n}"));
        refusal(&merge(&out, &dirs), &file.display().to_string());
        assert!(!out.exists(), "case {n}: a failed merge leaves no folder");
        std::fs::write(file, kept).unwrap();
    }
    ok(&merge(&tmp.path().join("whole"), &dirs));
}

/// A shard killed mid-scan and rerun with its --resume state merges the
/// same as shards that ran through.
#[test]
fn a_resumed_shard_merges_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("mirror");
    std::fs::create_dir(&tree).unwrap();
    make_tree(&tree, 40);
    let target = tree.to_str().unwrap();
    let clean = run_shards(&tmp.path().join("clean"), 2, &[target]);
    let clean_merged = tmp.path().join("clean-merged");
    assert_eq!(merge(&clean_merged, &clean).status.code(), Some(1));

    let dir = tmp.path().join("resumed");
    let state = tmp.path().join("shard1.state");
    let shard1 = || {
        let mut cmd = phiscan();
        cmd.arg("scan")
            .arg(target)
            .args([
                "--shard",
                "1/2",
                "--format",
                "csv,jsonl",
                "-q",
                "--threads",
                "1",
            ])
            .arg("--resume")
            .arg(&state)
            .arg("--output-dir")
            .arg(&dir);
        cmd
    };
    let mut child = shard1()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    // SIGKILL: no summary, no manifest; the state file holds what was done.
    child.kill().unwrap();
    child.wait().unwrap();
    if !dir.join("manifest.json").exists() {
        refusal(
            &merge(&tmp.path().join("early"), &[clean[0].clone(), dir.clone()]),
            "not a shard's output folder",
        );
    }
    ok(&shard1().output().unwrap());
    let merged = tmp.path().join("resumed-merged");
    let out = merge(&merged, &[clean[0].clone(), dir]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sorted_rows(&clean_merged.join("phiscan.csv")),
        sorted_rows(&merged.join("phiscan.csv"))
    );
    let findings = |p: &Path| summary_facts(&p.join("summary.json"))["total_findings"].clone();
    assert_eq!(findings(&clean_merged), findings(&merged));
    // Every file counted once: read by the rerun, or by the killed run
    // (already scanned), never both, and none of another shard's.
    let files = |p: &Path| {
        let s = summary_facts(&p.join("summary.json"));
        let n = |k: &str| s[k].as_u64().unwrap_or(0);
        (
            n("files_scanned") + n("files_already_scanned"),
            s["not_examined"].clone(),
        )
    };
    assert_eq!(files(&clean_merged), files(&merged));
    let resumed = summary_facts(&tmp.path().join("resumed/summary.json"));
    let clean1 = summary_facts(&clean[1].join("summary.json"));
    let n = |s: &serde_json::Value, k: &str| s[k].as_u64().unwrap_or(0);
    assert_eq!(
        n(&resumed, "files_scanned") + n(&resumed, "files_already_scanned"),
        n(&clean1, "files_scanned"),
        "{resumed}"
    );
}

/// The recipes in docs/recipes parse, and say what SHARDING.md says they
/// do: N indexes, `--shard INDEX/N` with the same N, one key for all, a
/// folder per shard, a merge after.
#[test]
fn recipes_are_well_formed() {
    use serde_yaml::Value;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/recipes");
    let text = std::fs::read_to_string(dir.join("k8s-indexed-job.yaml")).unwrap();
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "the shards' Job and the merge Job");
    for job in &docs {
        assert_eq!(job["apiVersion"], "batch/v1");
        assert_eq!(job["kind"], "Job");
        assert!(job["metadata"]["name"].is_string());
        let pod = &job["spec"]["template"]["spec"];
        assert_eq!(
            pod["restartPolicy"], "Never",
            "a Job's pods never restart in place"
        );
        let containers = pod["containers"].as_sequence().unwrap();
        assert!(!containers.is_empty());
        let volumes: Vec<&str> = pod["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        for c in containers {
            assert!(c["name"].is_string() && c["image"].is_string());
            for m in c["volumeMounts"].as_sequence().unwrap() {
                assert!(volumes.contains(&m["name"].as_str().unwrap()), "{m:?}");
            }
        }
    }
    let shards = &docs[0]["spec"];
    assert_eq!(shards["completionMode"], "Indexed");
    let n = shards["completions"].as_u64().unwrap();
    assert!(shards["parallelism"].as_u64().unwrap() <= n);
    let c = &shards["template"]["spec"]["containers"][0];
    let args = c["args"][0].as_str().unwrap();
    assert!(
        args.contains(&format!("--shard \"${{JOB_COMPLETION_INDEX}}/{n}\"")),
        "{args}"
    );
    assert!(args.contains("--output-dir \"/out/shard-${JOB_COMPLETION_INDEX}\""));
    let key = c["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "PHISCAN_FINGERPRINT_KEY")
        .expect("the key comes from the environment");
    assert!(
        key["valueFrom"]["secretKeyRef"]["name"].is_string(),
        "from a Secret"
    );
    assert!(key.get("value").is_none(), "never written in the manifest");
    let merge = docs[1]["spec"]["template"]["spec"]["containers"][0]["args"][0]
        .as_str()
        .unwrap();
    assert!(merge.contains("phiscan merge") && merge.contains("/out/shard-*/"));

    let text = std::fs::read_to_string(dir.join("github-actions-matrix.yaml")).unwrap();
    let wf: Value = serde_yaml::from_str(&text).unwrap();
    let indexes = wf["jobs"]["shard"]["strategy"]["matrix"]["index"]
        .as_sequence()
        .unwrap();
    let n = indexes.len() as u64;
    let listed: Vec<u64> = indexes.iter().map(|i| i.as_u64().unwrap()).collect();
    assert_eq!(
        listed,
        (0..n).collect::<Vec<_>>(),
        "indexes 0..N-1, each once"
    );
    let steps = wf["jobs"]["shard"]["steps"].as_sequence().unwrap();
    let scan = steps.iter().find(|s| s["run"].is_string()).unwrap();
    assert!(scan["run"]
        .as_str()
        .unwrap()
        .contains(&format!("--shard ${{{{ matrix.index }}}}/{n}")));
    assert!(scan["env"]["PHISCAN_FINGERPRINT_KEY"]
        .as_str()
        .unwrap()
        .contains("secrets."));
    assert_eq!(wf["jobs"]["merge"]["needs"], "shard");
    let merge_steps = wf["jobs"]["merge"]["steps"].as_sequence().unwrap();
    assert!(merge_steps.iter().any(|s| s["run"]
        .as_str()
        .is_some_and(|r| r.contains("phiscan merge"))));

    let slurm = std::fs::read_to_string(dir.join("slurm-array.sh")).unwrap();
    assert!(slurm.contains("#SBATCH --array=0-15"));
    assert!(slurm.contains("--shard \"${SLURM_ARRAY_TASK_ID}/16\""));
}

/// Runs `count` discover shards at once; returns their folders.
fn run_discover_shards(base: &Path, count: u32, args: &[&str]) -> Vec<PathBuf> {
    let children: Vec<_> = (0..count)
        .map(|i| {
            let dir = base.join(format!("shard-{i}"));
            let child = phiscan()
                .arg("discover")
                .args(args)
                .args(["--shard", &format!("{i}/{count}")])
                .args(["--format", "csv,jsonl", "-q", "--output-dir"])
                .arg(&dir)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start shard");
            (dir, child)
        })
        .collect();
    children
        .into_iter()
        .map(|(dir, child)| {
            ok(&child.wait_with_output().unwrap());
            dir
        })
        .collect()
}

/// Servers on a loopback block for the sweeps below: two libunftp shares
/// (anonymous, with PHI) and a server that lets nobody in, each on its own
/// port. Returns the block, the ports, and the servers (kept running).
fn swept_servers(tmp: &Path) -> (String, String, Vec<Box<dyn std::any::Any>>) {
    use crate::common::exposure_server as es;
    use crate::discover::{at, block};
    let b = block();
    let mut keep: Vec<Box<dyn std::any::Any>> = Vec::new();
    let mut ports = Vec::new();
    for (i, last) in [3u8, 9].into_iter().enumerate() {
        let root = tmp.join(format!("share{i}"));
        std::fs::create_dir(&root).unwrap();
        make_tree(&root, 2 + i);
        ports.push(es::start_unftp_at(at(b, last, 0), &root).port());
    }
    let closed = es::start(
        at(b, 12, 0),
        es::Config {
            logins: vec![],
            ..es::Config::new("(vsFTPd 3.0.3)")
        },
    );
    ports.push(closed.addr.port());
    keep.push(Box::new(closed));
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    (
        format!("{}.{}.{}.0/28", b[0], b[1], b[2]),
        ports.join(","),
        keep,
    )
}

/// `discover --shard I/N`: N sweeps side by side, merged, give one sweep's
/// rows and summary (counts added: addresses, ports probed, services).
#[test]
fn discover_shards_merge_to_one_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let (block, ports, _servers) = swept_servers(tmp.path());
    let args = [
        block.as_str(),
        "--ports",
        &ports,
        "--rate",
        "unlimited",
        "--timeout",
        "5",
    ];
    let one = tmp.path().join("one");
    let out = phiscan()
        .arg("discover")
        .args(args)
        .args(["--format", "csv", "-q", "--output-dir"])
        .arg(&one)
        .arg("--summary-json")
        .arg(one.join("summary.json"))
        .arg("--targets-out")
        .arg(tmp.path().join("one-targets.txt"))
        .output()
        .unwrap();
    ok(&out);
    let one_targets = std::fs::read_to_string(tmp.path().join("one-targets.txt")).unwrap();
    assert_eq!(
        one_targets.lines().filter(|l| !l.starts_with('#')).count(),
        2,
        "two anonymous shares: {one_targets}"
    );
    let one_summary = summary_facts(&one.join("summary.json"));
    assert_eq!(one_summary["discovery"]["ftp_services"], 3, "{one_summary}");
    assert_eq!(one_summary["discovery"]["addresses"], 16);
    for count in [2, 3] {
        let base = tmp.path().join(format!("n{count}"));
        let dirs = run_discover_shards(&base, count, &args);
        let merged = base.join("merged");
        let out = merge(&merged, &dirs);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_same_as_one_run(&one, &merged);
        // The shards' server lists, joined, are one sweep's --targets-out.
        let joined = std::fs::read_to_string(merged.join("targets.txt")).unwrap();
        assert_eq!(joined, one_targets);
        // Each shard probed only its own part of the 16 × 3 ports.
        let probed: Vec<u64> = dirs
            .iter()
            .map(|d| {
                summary_facts(&d.join("summary.json"))["discovery"]["ports_probed"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(probed.iter().sum::<u64>(), 48, "{probed:?}");
        assert!(probed.iter().all(|&p| p < 48), "{probed:?}");
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dirs[0].join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(manifest["kind"], "discover");
    }

    // The joined list feeds a scan: both shares' files are read.
    let scanned = tmp.path().join("scanned");
    let out = phiscan()
        .args(["scan", "--targets"])
        .arg(tmp.path().join("n2/merged/targets.txt"))
        .args(["--format", "csv", "-q", "--output-dir"])
        .arg(&scanned)
        .arg("--summary-json")
        .arg(scanned.join("summary.json"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, rows) = sorted_rows(&scanned.join("phiscan.csv"));
    for url in one_targets.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            rows.iter().any(|r| r.starts_with(url) && r.contains("SSN")),
            "no PHI row from {url}: {rows:?}"
        );
    }
    // And sharded again: a block's servers found once, then crawled by
    // shards (docs/SHARDING.md's way for a large block with few servers).
    let list = tmp.path().join("n2/merged/targets.txt");
    let crawl = tmp.path().join("crawl");
    let dirs = run_shards(
        &crawl,
        3,
        &["--targets", list.to_str().unwrap(), "--split-depth", "1"],
    );
    let out = merge(&crawl.join("merged"), &dirs);
    assert_eq!(out.status.code(), Some(1));
    assert_same_as_one_run(&scanned, &crawl.join("merged"));

    // A discover shard without its list is refused, by name.
    let d2 = run_discover_shards(&tmp.path().join("nolist"), 2, &args);
    let list = d2[1].join("targets.txt");
    std::fs::remove_file(&list).unwrap();
    refusal(
        &merge(&tmp.path().join("nolist-merged"), &d2),
        &list.display().to_string(),
    );

    // Discover shards and scan shards are not one run.
    let tree = tmp.path().join("share0");
    let scans = run_shards(&tmp.path().join("scan"), 2, &[tree.to_str().unwrap()]);
    let discovers = run_discover_shards(&tmp.path().join("d2"), 2, &args);
    refusal(
        &merge(
            &tmp.path().join("mixed"),
            &[discovers[0].clone(), scans[1].clone()],
        ),
        "cannot merge discover shards with scan shards",
    );
    // Another port list is another sweep.
    let other = run_discover_shards(
        &tmp.path().join("other"),
        2,
        &[block.as_str(), "--ports", "21", "--rate", "unlimited"],
    );
    refusal(
        &merge(
            &tmp.path().join("mixed2"),
            &[discovers[0].clone(), other[1].clone()],
        ),
        "the settings that change results differs",
    );
}

/// `scan BLOCK --shard I/N`: each shard sweeps its own addresses and ports;
/// a server's exposure rows come from one shard, its files are split as
/// for any FTP target; merged, the same as one scan of the block.
#[test]
fn scan_of_a_block_shards_and_merges() {
    let tmp = tempfile::tempdir().unwrap();
    let (block, ports, _servers) = swept_servers(tmp.path());
    let args = [
        block.as_str(),
        "--ports",
        &ports,
        "--timeout",
        "5",
        "--connections",
        "2",
    ];
    let one = one_run(tmp.path(), &args);
    let (_, rows) = sorted_rows(&one.join("phiscan.csv"));
    assert!(
        rows.iter().any(|r| r.contains("dept1/year2/p2.txt")),
        "crawled"
    );
    for (count, depth) in [(3, "1"), (2, "0"), (2, "2")] {
        let base = tmp.path().join(format!("n{count}-d{depth}"));
        let mut with_depth = args.to_vec();
        with_depth.extend(["--split-depth", depth]);
        let dirs = run_shards(&base, count, &with_depth);
        let merged = base.join("merged");
        let out = merge(&merged, &dirs);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_same_as_one_run(&one, &merged);
        let (_, rows) = sorted_rows(&merged.join("phiscan.csv"));
        let anonymous = rows
            .iter()
            .filter(|r| r.contains("FTP_ANONYMOUS_LOGIN"))
            .count();
        assert_eq!(anonymous, 2, "one anonymous-login row per open server");
    }
}

/// Shards scanned with a rule pack of their own: merge describes its
/// rules in SARIF when given the same `--rules`, and refuses (exit 2)
/// without them, or with another pack.
#[test]
fn merge_takes_the_shards_rule_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("mirror");
    std::fs::create_dir(&tree).unwrap();
    make_tree(&tree, 2);
    std::fs::write(tree.join("dept1/tickets.txt"), "ref TK-123456\n").unwrap();
    let rules = tmp.path().join("tickets.toml");
    std::fs::write(
        &rules,
        r#"[[rules]]
id = "ticket"
entity = "MRN"
description = "ticket-style record number"
pattern = '\bTK-(?P<value>\d{6})\b'
confidence = "HIGH"
examples = ["TK-123456"]
negative_examples = ["TK-12345", "XTK-123456"]
"#,
    )
    .unwrap();
    let rules = rules.to_str().unwrap();
    let dirs = run_shards(
        &tmp.path().join("s"),
        2,
        &[tree.to_str().unwrap(), "--rules", rules],
    );
    let merge_with = |out: &str, extra: &[&str]| {
        phiscan()
            .args(["merge", "-q", "--format", "csv,sarif", "--output-dir"])
            .arg(tmp.path().join(out))
            .args(extra)
            .args(&dirs)
            .output()
            .unwrap()
    };
    refusal(&merge_with("plain", &[]), "not the one the shards ran");
    refusal(
        &merge_with("other", &["--rules", rules, "--no-default-rules"]),
        "not the one the shards ran",
    );
    let out = merge_with("merged", &["--rules", rules]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sarif: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("merged/phiscan.sarif")).unwrap(),
    )
    .unwrap();
    let run = &sarif["runs"][0];
    let rule = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "ticket")
        .expect("the pack's rule is described");
    assert!(
        rule.to_string().contains("ticket-style record number"),
        "{rule}"
    );
    assert!(run["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["ruleId"] == "ticket"));
}

/// `--max-rows` caps one run's rows; each shard caps only its own, and
/// `merge --max-rows` applies the run's cap to the whole: as many rows
/// written, and as many counted as not written, as one run.
#[test]
fn merge_applies_the_run_wide_row_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("mirror");
    std::fs::create_dir(&tree).unwrap();
    make_tree(&tree, 4);
    let args = [tree.to_str().unwrap(), "--max-rows", "7"];
    let one = one_run(tmp.path(), &args);
    let dirs = run_shards(&tmp.path().join("s"), 3, &args);
    let merged = tmp.path().join("merged");
    let out = phiscan()
        .args([
            "merge",
            "-q",
            "--format",
            "csv",
            "--max-rows",
            "7",
            "--output-dir",
        ])
        .arg(&merged)
        .args(&dirs)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, one_rows) = sorted_rows(&one.join("phiscan.csv"));
    let (_, rows) = sorted_rows(&merged.join("phiscan.csv"));
    assert_eq!(one_rows.len(), 7);
    assert_eq!(rows.len(), 7);
    let text = std::fs::read_to_string(merged.join("phiscan.csv")).unwrap();
    assert!(
        text.lines()
            .last()
            .unwrap()
            .contains("row cap per scan reached"),
        "{text}"
    );
    let facts = |p: &Path| {
        let s = summary_facts(&p.join("summary.json"));
        (s["rows_not_written"].clone(), s["total_findings"].clone())
    };
    assert_eq!(facts(&one), facts(&merged));
    assert!(facts(&one).0.as_u64().unwrap() > 0);
}
