//! The crawl's shared work: folders to list and files to fetch.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

/// Files waiting in the queue before workers prefer fetching to listing.
const FILE_QUEUE_LOW: usize = 1024;

/// A directory to list.
#[derive(Debug, Clone)]
pub(super) struct DirJob {
    /// Absolute server path, wire form.
    pub(super) wire: String,
    /// Report path relative to the target ("" for its root).
    pub(super) rel: String,
    pub(super) depth: u32,
    /// Symbolic links followed to get here.
    pub(super) links: u32,
    /// Reached through a link: may turn out to be a file.
    pub(super) via_link: bool,
    /// Shapes ([`listing_shape`](super::crawl::listing_shape)) of the
    /// folders above, with their report paths, for loop detection.
    pub(super) ancestors: Arc<Vec<(u64, String)>>,
}

/// A file to fetch.
#[derive(Debug, Clone)]
pub(super) struct FileJob {
    pub(super) wire: String,
    pub(super) rel: String,
    pub(super) size: Option<u64>,
}

pub(super) enum Job {
    Dir(DirJob),
    File(FileJob),
}

#[derive(Default)]
struct QueueState {
    dirs: Vec<DirJob>,
    files: VecDeque<FileJob>,
    busy: usize,
}

/// The work shared by the workers. Directories are taken depth-first and
/// only while few files wait, which bounds the queue by roughly one
/// directory's worth of files.
#[derive(Default)]
pub(super) struct Queue {
    state: Mutex<QueueState>,
    wake: Condvar,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn next(&self) -> Option<Job> {
        let mut s = self.lock();
        loop {
            if s.files.len() < FILE_QUEUE_LOW {
                if let Some(d) = s.dirs.pop() {
                    s.busy += 1;
                    return Some(Job::Dir(d));
                }
            }
            if let Some(f) = s.files.pop_front() {
                s.busy += 1;
                return Some(Job::File(f));
            }
            if let Some(d) = s.dirs.pop() {
                s.busy += 1;
                return Some(Job::Dir(d));
            }
            if s.busy == 0 {
                self.wake.notify_all();
                return None;
            }
            s = self.wake.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    pub(super) fn done(&self) {
        let mut s = self.lock();
        s.busy = s.busy.saturating_sub(1);
        self.wake.notify_all();
    }

    pub(super) fn push_dir(&self, d: DirJob) {
        self.lock().dirs.push(d);
        self.wake.notify_one();
    }

    pub(super) fn push_file(&self, f: FileJob) {
        self.lock().files.push_back(f);
        self.wake.notify_one();
    }

    /// Puts a job back (its worker is leaving); call before [`Queue::done`].
    pub(super) fn requeue(&self, job: Job) {
        let mut s = self.lock();
        match job {
            Job::Dir(d) => s.dirs.push(d),
            Job::File(f) => s.files.push_front(f),
        }
        self.wake.notify_all();
    }
}
