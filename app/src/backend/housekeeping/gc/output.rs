//! Reading the collector's output: its log kept within bounds (a registry of many images prints
//! a line per blob of every manifest it marks), and the blobs it names for deletion.

use std::collections::VecDeque;

use super::CollectorOutput;

/// Bytes of the log's beginning kept whole.
pub const HEAD_BYTES: usize = 64 * 1024;
/// Bytes of the log's end kept (the summary and the deletions are at the end).
pub const TAIL_BYTES: usize = 192 * 1024;
/// Digests kept in a run's list (all are counted).
pub const MAX_BLOBS: usize = 10_000;
/// A line longer than this is cut.
const MAX_LINE: usize = 4096;

/// What the collector prints for each blob it removes (or would remove, dry), in 2.8 and 3.x.
const ELIGIBLE: &str = "blob eligible for deletion: ";

/// The collector's output as it is read, line by line.
#[derive(Debug, Default)]
pub struct BoundedLog {
    head: String,
    tail: VecDeque<String>,
    tail_bytes: usize,
    omitted_lines: u64,
    blobs: Vec<String>,
    blob_count: u64,
}

impl BoundedLog {
    pub fn push_line(&mut self, line: &str) {
        let line: String = match line.char_indices().nth(MAX_LINE) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line.to_string(),
        };
        if let Some(digest) = eligible_blob(&line) {
            self.blob_count += 1;
            if self.blobs.len() < MAX_BLOBS {
                self.blobs.push(digest.to_string());
            }
        }
        if self.tail.is_empty() && self.head.len() + line.len() < HEAD_BYTES {
            self.head.push_str(&line);
            self.head.push('\n');
            return;
        }
        self.tail_bytes += line.len() + 1;
        self.tail.push_back(line);
        while self.tail_bytes > TAIL_BYTES {
            let Some(dropped) = self.tail.pop_front() else { break };
            self.tail_bytes -= dropped.len() + 1;
            self.omitted_lines += 1;
        }
    }

    /// The kept log (beginning, a note of what was left out, end) and the blobs it named.
    pub fn finish(self, error: Option<String>) -> CollectorOutput {
        let mut log = self.head;
        if self.omitted_lines > 0 {
            log.push_str(&format!("… {} lines not kept …\n", self.omitted_lines));
        }
        for line in self.tail {
            log.push_str(&line);
            log.push('\n');
        }
        CollectorOutput {
            log,
            blobs: self.blobs,
            blob_count: self.blob_count,
            error,
        }
    }
}

/// The digest a line names for deletion, if it is such a line (`sha256:` and 64 hex digits, or
/// another algorithm's name and hex).
fn eligible_blob(line: &str) -> Option<&str> {
    let rest = &line[line.find(ELIGIBLE)? + ELIGIBLE.len()..];
    let digest = rest.split_whitespace().next()?;
    let (algorithm, hex) = digest.split_once(':')?;
    let valid = !algorithm.is_empty()
        && algorithm
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '+' || c == '.' || c == '_' || c == '-')
        && hex.len() >= 32
        && hex.chars().all(|c| c.is_ascii_hexdigit());
    valid.then_some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

    #[test]
    fn names_the_blobs_to_delete() {
        let mut log = BoundedLog::default();
        for line in [
            "team/app",
            "team/app: marking manifest sha256:aa",
            "2 blobs marked, 1 blobs and 0 manifests eligible for deletion",
            &format!("blob eligible for deletion: {DIGEST}"),
            "blob eligible for deletion: sha256:not-hex",
            &format!(
                "time=\"x\" level=info msg=\"Deleting blob: /docker/registry/v2/blobs/sha256/5f/{}\"",
                &DIGEST[7..]
            ),
        ] {
            log.push_line(line);
        }
        let output = log.finish(None);
        assert_eq!(output.blobs, vec![DIGEST.to_string()]);
        assert_eq!(output.blob_count, 1);
        assert!(output.log.starts_with("team/app\n") && output.log.contains("Deleting blob"));
    }

    #[test]
    fn a_huge_output_keeps_its_beginning_and_end() {
        let mut log = BoundedLog::default();
        log.push_line("first line");
        for n in 0..100_000 {
            log.push_line(&format!("team/app: marking blob sha256:{n:064x}"));
        }
        log.push_line(&"x".repeat(1_000_000));
        log.push_line(&format!("blob eligible for deletion: {DIGEST}"));
        let output = log.finish(Some("exit status 1".into()));
        assert!(
            output.log.len() <= HEAD_BYTES + TAIL_BYTES + 100,
            "{}",
            output.log.len()
        );
        assert!(output.log.starts_with("first line\n"));
        assert!(output.log.contains("lines not kept"));
        assert!(output.log.ends_with(&format!("blob eligible for deletion: {DIGEST}\n")));
        assert_eq!(output.blob_count, 1);
        assert_eq!(output.error.as_deref(), Some("exit status 1"));
    }

    #[test]
    fn the_list_of_blobs_is_bounded_but_all_are_counted() {
        let mut log = BoundedLog::default();
        for n in 0..(MAX_BLOBS + 5) {
            log.push_line(&format!("blob eligible for deletion: sha256:{n:064x}"));
        }
        let output = log.finish(None);
        assert_eq!(output.blobs.len(), MAX_BLOBS);
        assert_eq!(output.blob_count, (MAX_BLOBS + 5) as u64);
    }
}
