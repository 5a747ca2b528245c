//! Write-ahead log + snapshot: the gateway's checkpoint.
//!
//! Records are framed `[len: u32 LE][crc32: u32 LE][JSON payload]` in segment files
//! `wal-<first seq>.log`. `append` writes a whole batch and fsyncs once (group commit) unless the
//! policy says otherwise. `checkpoint` writes `snapshot.json` atomically (tmp + fsync + rename +
//! dir fsync), starts a fresh segment and deletes the covered ones. On open, a torn last record
//! (crash mid-write) is detected by length or checksum and cut off, never misread; a bad record
//! anywhere else is corruption and an error.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

const HEADER_LEN: usize = 8;
/// A record larger than this is treated as a torn or corrupt length field.
pub const MAX_RECORD_LEN: usize = 16 * 1024 * 1024;
const SNAPSHOT: &str = "snapshot.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// fsync after every record: slowest, for tests of the policy itself.
    Always,
    /// One fsync per `append` call (group commit): the default.
    PerBatch,
    /// Leave it to the OS: backtests and benchmarks only.
    Never,
}

impl std::str::FromStr for FsyncPolicy {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "always" => Ok(FsyncPolicy::Always),
            "per_batch" => Ok(FsyncPolicy::PerBatch),
            "never" => Ok(FsyncPolicy::Never),
            other => Err(format!(
                "fsync policy must be always, per_batch or never, got {other:?}"
            )),
        }
    }
}

#[derive(Debug, Error)]
pub enum WalError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: corrupt record at byte {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("cannot encode a log record: {0}")]
    Encode(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WalError + '_ {
    move |source| WalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry<R> {
    pub seq: u64,
    pub record: R,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot<S> {
    /// Every record with `seq <= last_seq` is reflected in `state`.
    pub last_seq: u64,
    pub state: S,
}

/// What `open` found on disk.
#[derive(Debug)]
pub struct Recovered<R, S> {
    pub snapshot: Option<Snapshot<S>>,
    /// Records after the snapshot, in order.
    pub entries: Vec<Entry<R>>,
    /// Bytes of a torn final record that were cut off (0 when the log ended cleanly).
    pub torn_tail_bytes: u64,
}

pub struct Wal {
    dir: PathBuf,
    segment: File,
    segment_path: PathBuf,
    next_seq: u64,
    policy: FsyncPolicy,
    buffer: Vec<u8>,
}

fn segment_name(first_seq: u64) -> String {
    format!("wal-{first_seq:020}.log")
}

fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let mut found = Vec::new();
    for item in fs::read_dir(dir).map_err(io_err(dir))? {
        let path = item.map_err(io_err(dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(seq) = name
            .strip_prefix("wal-")
            .and_then(|rest| rest.strip_suffix(".log"))
            .and_then(|digits| digits.parse::<u64>().ok())
        {
            found.push((seq, path));
        }
    }
    found.sort();
    Ok(found)
}

fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Decode the frames of one segment. Returns the entries and the length of the valid prefix.
fn read_segment<R: DeserializeOwned>(
    path: &Path,
    is_last: bool,
) -> Result<(Vec<Entry<R>>, u64), WalError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io_err(path))?;
    let mut entries = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        let problem = if rest.len() < HEADER_LEN {
            Some("truncated header".to_string())
        } else {
            let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
            let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
            if len > MAX_RECORD_LEN || HEADER_LEN + len > rest.len() {
                Some(format!("record length {len} runs past the end"))
            } else {
                let payload = &rest[HEADER_LEN..HEADER_LEN + len];
                if crc32fast::hash(payload) != crc {
                    Some("checksum mismatch".to_string())
                } else {
                    match serde_json::from_slice::<Entry<R>>(payload) {
                        Ok(entry) => {
                            entries.push(entry);
                            offset += HEADER_LEN + len;
                            None
                        }
                        Err(e) => {
                            return Err(WalError::Corrupt {
                                path: path.to_path_buf(),
                                offset: offset as u64,
                                reason: format!("checksummed record does not decode: {e}"),
                            })
                        }
                    }
                }
            }
        };
        if let Some(reason) = problem {
            // Only the end of the newest segment can be torn by a crash; and a torn record is the
            // last thing in the file: no complete, valid frame may follow it.
            if is_last && !valid_frame_follows(&bytes, offset) {
                return Ok((entries, offset as u64));
            }
            return Err(WalError::Corrupt {
                path: path.to_path_buf(),
                offset: offset as u64,
                reason,
            });
        }
    }
    Ok((entries, offset as u64))
}

/// Whether a bad frame at `offset` is followed by a well-formed frame (i.e. not a torn tail).
fn valid_frame_follows(bytes: &[u8], offset: usize) -> bool {
    let rest = &bytes[offset..];
    if rest.len() < HEADER_LEN {
        return false;
    }
    let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
    let next = offset + HEADER_LEN + len;
    if len > MAX_RECORD_LEN || next + HEADER_LEN > bytes.len() {
        return false;
    }
    let next_len = u32::from_le_bytes(bytes[next..next + 4].try_into().expect("4 bytes")) as usize;
    let next_crc = u32::from_le_bytes(bytes[next + 4..next + 8].try_into().expect("4 bytes"));
    next + HEADER_LEN + next_len <= bytes.len()
        && crc32fast::hash(&bytes[next + HEADER_LEN..next + HEADER_LEN + next_len]) == next_crc
}

impl Wal {
    /// Open (creating) the log in `dir` and return what it holds.
    pub fn open<R: DeserializeOwned, S: DeserializeOwned>(
        dir: &Path,
        policy: FsyncPolicy,
    ) -> Result<(Wal, Recovered<R, S>), WalError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let snapshot_path = dir.join(SNAPSHOT);
        let snapshot: Option<Snapshot<S>> = if snapshot_path.exists() {
            let bytes = fs::read(&snapshot_path).map_err(io_err(&snapshot_path))?;
            Some(
                serde_json::from_slice(&bytes).map_err(|e| WalError::Corrupt {
                    path: snapshot_path.clone(),
                    offset: 0,
                    reason: e.to_string(),
                })?,
            )
        } else {
            None
        };
        let after = snapshot.as_ref().map_or(0, |s| s.last_seq);
        let found = segments(dir)?;
        let mut entries = Vec::new();
        let mut torn_tail_bytes = 0;
        let mut last_seq = after;
        for (index, (_, path)) in found.iter().enumerate() {
            let is_last = index + 1 == found.len();
            let (segment_entries, valid_len) = read_segment::<R>(path, is_last)?;
            if is_last {
                let file_len = fs::metadata(path).map_err(io_err(path))?.len();
                if valid_len < file_len {
                    torn_tail_bytes = file_len - valid_len;
                    let file = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(io_err(path))?;
                    file.set_len(valid_len).map_err(io_err(path))?;
                    file.sync_all().map_err(io_err(path))?;
                }
            }
            for entry in segment_entries {
                if entry.seq > last_seq {
                    last_seq = entry.seq;
                    entries.push(entry);
                }
            }
        }
        let next_seq = last_seq + 1;
        let segment_path = match found.last() {
            Some((_, path)) => path.clone(),
            None => dir.join(segment_name(next_seq)),
        };
        let segment = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&segment_path)
            .map_err(io_err(&segment_path))?;
        sync_dir(dir)?;
        let wal = Wal {
            dir: dir.to_path_buf(),
            segment,
            segment_path,
            next_seq,
            policy,
            buffer: Vec::with_capacity(64 * 1024),
        };
        Ok((
            wal,
            Recovered {
                snapshot,
                entries,
                torn_tail_bytes,
            },
        ))
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Append records as one group commit; returns the sequence number of the last one.
    pub fn append<R: Serialize>(&mut self, records: &[R]) -> Result<u64, WalError> {
        self.buffer.clear();
        let mut seq = self.next_seq;
        for record in records {
            let start = self.buffer.len();
            self.buffer.extend_from_slice(&[0u8; HEADER_LEN]);
            serde_json::to_writer(&mut self.buffer, &Entry { seq, record })
                .map_err(|e| WalError::Encode(e.to_string()))?;
            let len = self.buffer.len() - start - HEADER_LEN;
            let crc = crc32fast::hash(&self.buffer[start + HEADER_LEN..]);
            self.buffer[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
            self.buffer[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
            if self.policy == FsyncPolicy::Always {
                self.write_and_sync(start)?;
            }
            seq += 1;
        }
        if self.policy != FsyncPolicy::Always {
            self.write_and_sync(0)?;
        }
        self.next_seq = seq;
        Ok(seq - 1)
    }

    fn write_and_sync(&mut self, from: usize) -> Result<(), WalError> {
        let path = &self.segment_path;
        self.segment
            .write_all(&self.buffer[from..])
            .map_err(io_err(path))?;
        if self.policy != FsyncPolicy::Never {
            self.segment.sync_data().map_err(io_err(path))?;
        }
        Ok(())
    }

    /// Persist `state` as covering every record so far, then drop the covered segments.
    pub fn checkpoint<S: Serialize>(&mut self, state: &S) -> Result<(), WalError> {
        let last_seq = self.next_seq - 1;
        let tmp = self.dir.join("snapshot.json.tmp");
        let bytes = serde_json::to_vec(&Snapshot { last_seq, state })
            .map_err(|e| WalError::Encode(e.to_string()))?;
        {
            let mut file = File::create(&tmp).map_err(io_err(&tmp))?;
            file.write_all(&bytes).map_err(io_err(&tmp))?;
            file.sync_all().map_err(io_err(&tmp))?;
        }
        let snapshot_path = self.dir.join(SNAPSHOT);
        fs::rename(&tmp, &snapshot_path).map_err(io_err(&snapshot_path))?;
        let new_path = self.dir.join(segment_name(self.next_seq));
        self.segment = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&new_path)
            .map_err(io_err(&new_path))?;
        self.segment_path = new_path;
        sync_dir(&self.dir)?;
        for (first_seq, path) in segments(&self.dir)? {
            if first_seq < self.next_seq {
                fs::remove_file(&path).map_err(io_err(&path))?;
            }
        }
        sync_dir(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rt-wal-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    type Rec = Recovered<String, Vec<String>>;

    fn open(dir: &Path) -> (Wal, Rec) {
        Wal::open(dir, FsyncPolicy::PerBatch).unwrap()
    }

    fn records(recovered: &Rec) -> Vec<String> {
        recovered.entries.iter().map(|e| e.record.clone()).collect()
    }

    #[test]
    fn appended_records_come_back_in_order_after_reopen() {
        let dir = temp_dir("order");
        let (mut wal, _) = open(&dir);
        wal.append(&["a".to_string(), "b".to_string()]).unwrap();
        wal.append(&["c".to_string()]).unwrap();
        drop(wal);
        let (wal, recovered) = open(&dir);
        assert_eq!(records(&recovered), ["a", "b", "c"]);
        assert_eq!(wal.next_seq(), 4);
        assert_eq!(recovered.torn_tail_bytes, 0);
    }

    #[test]
    fn checkpoint_compacts_and_later_records_replay_on_top() {
        let dir = temp_dir("checkpoint");
        let (mut wal, _) = open(&dir);
        wal.append(&["a".to_string(), "b".to_string()]).unwrap();
        wal.checkpoint(&vec!["state-after-b".to_string()]).unwrap();
        wal.append(&["c".to_string()]).unwrap();
        drop(wal);
        assert_eq!(segments(&dir).unwrap().len(), 1);
        let (_, recovered) = open(&dir);
        let snapshot = recovered.snapshot.as_ref().unwrap();
        assert_eq!(snapshot.last_seq, 2);
        assert_eq!(snapshot.state, vec!["state-after-b".to_string()]);
        assert_eq!(records(&recovered), ["c"]);
    }

    #[test]
    fn every_possible_torn_tail_is_cut_off_never_misread() {
        let dir = temp_dir("torn");
        let (mut wal, _) = open(&dir);
        wal.append(&["first".to_string(), "second".to_string()])
            .unwrap();
        let path = wal.segment_path.clone();
        drop(wal);
        let full = fs::read(&path).unwrap();
        let first_len = HEADER_LEN + full[0] as usize;
        for cut in first_len + 1..full.len() {
            fs::write(&path, &full[..cut]).unwrap();
            let (_, recovered) = open(&dir);
            assert_eq!(records(&recovered), ["first"], "cut at {cut}");
            assert_eq!(recovered.torn_tail_bytes, (cut - first_len) as u64);
            assert_eq!(fs::metadata(&path).unwrap().len(), first_len as u64);
        }
    }

    #[test]
    fn flipped_bit_in_the_last_record_is_a_torn_tail_but_mid_log_is_corruption() {
        let dir = temp_dir("flip");
        let (mut wal, _) = open(&dir);
        wal.append(&["one".to_string(), "two".to_string(), "three".to_string()])
            .unwrap();
        let path = wal.segment_path.clone();
        drop(wal);
        let full = fs::read(&path).unwrap();
        let mut tail = full.clone();
        let last = tail.len() - 2;
        tail[last] ^= 0x40;
        fs::write(&path, &tail).unwrap();
        let (_, recovered) = open(&dir);
        assert_eq!(records(&recovered), ["one", "two"]);

        let mut middle = full.clone();
        middle[HEADER_LEN + 3] ^= 0x40;
        fs::write(&path, &middle).unwrap();
        let err = Wal::open::<String, Vec<String>>(&dir, FsyncPolicy::PerBatch)
            .err()
            .unwrap();
        assert!(matches!(err, WalError::Corrupt { offset: 0, .. }), "{err}");
    }

    proptest! {
        #[test]
        fn any_truncation_recovers_a_prefix(
            items in proptest::collection::vec("[a-z]{0,40}", 1..20),
            cut_fraction in 0.0f64..1.0,
        ) {
            let dir = temp_dir("prop");
            let (mut wal, _) = open(&dir);
            wal.append(&items).unwrap();
            let path = wal.segment_path.clone();
            drop(wal);
            let full = fs::read(&path).unwrap();
            let cut = (full.len() as f64 * cut_fraction) as usize;
            fs::write(&path, &full[..cut]).unwrap();
            let (_, recovered) = open(&dir);
            let got = records(&recovered);
            prop_assert!(got.len() <= items.len());
            prop_assert_eq!(&got[..], &items[..got.len()]);
        }
    }
}
