//! `docs/getting-started.md`, run as written: every line of its `sh` blocks, in order, in
//! one bash session, with the `omni` this build made first on `PATH`. A person typing the
//! commands waits for the counterparty's node between steps; the script instead retries a
//! command the node refused (exit 1: the counterparty's step has not arrived over the
//! sync yet) for up to a minute. Any other failure fails the test, and so does a command
//! still refused after that.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

/// The commands of the `sh` blocks of a Markdown document, one per line.
fn commands(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in markdown.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            inside = !inside && t == "```sh";
            continue;
        }
        if inside && !t.is_empty() && !t.starts_with('#') {
            out.push(line.to_string());
        }
    }
    out
}

#[test]
fn the_getting_started_guide_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let doc = std::fs::read_to_string(root.join("docs/getting-started.md")).unwrap();
    let lines = commands(&doc);
    assert!(lines.len() > 20, "{lines:?}");
    let mut script = String::from(
        "set -u\n\
         trap 'kill $(jobs -p) 2>/dev/null' EXIT\n\
         attempt() {\n\
           local deadline=$((SECONDS + 60))\n\
           while true; do\n\
             eval \"$1\"; local rc=$?\n\
             [ $rc -eq 0 ] && return 0\n\
             if [ $rc -ne 1 ] || [ $SECONDS -ge $deadline ]; then\n\
               echo \"FAILED ($rc): $1\" >&2; exit 1\n\
             fi\n\
             sleep 0.3\n\
           done\n\
         }\n",
    );
    for line in &lines {
        if line.trim_end().ends_with('&') {
            script.push_str(line);
            script.push('\n');
        } else {
            script.push_str(&format!("attempt {}\n", shell_quote(line)));
        }
    }
    script.push_str("echo GUIDE-DONE\n");
    let omni = Path::new(env!("CARGO_BIN_EXE_omni"));
    let path = format!(
        "{}:{}",
        omni.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&root)
        .env("PATH", path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("GUIDE-DONE"),
        "the guide failed:\n{stdout}\n{stderr}"
    );
    // The guide's last registry answer: the invoice paid, on time.
    assert!(stdout.contains(": paid ("), "{stdout}");
    assert!(stdout.contains("1 paid on time, 0 late"), "{stdout}");
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn sh_blocks_are_read_line_by_line() {
    let md = "text\n```sh\n# comment\nomni a\n\nomni b &\n```\n```toml\nx = 1\n```\n";
    assert_eq!(commands(md), vec!["omni a".to_string(), "omni b &".to_string()]);
}
