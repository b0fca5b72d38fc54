//! The secrets' and configs' values a node holds for its tasks: `FileCache` keeps those of the latest assignment
//! answer (and only those, so a value no task here needs any more is dropped from memory), and resolves a task's
//! references into its `TaskFiles` (the executor seam's type: value, path in the container, owner and mode). The
//! invariant: a value never reaches a log line or an error message (`Debug` shows sizes, never bytes), and a task
//! whose reference has no value here is refused with the object's name, not started without it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use swarm_core::{FileKind, FileTarget, Task};

use super::executor::{ExecError, TaskFile, TaskFiles};
use crate::dispatcher::api::FilePayload;

/// The values of the newest assignment answer, by kind and id. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct FileCache(Arc<Mutex<CachedValues>>);

#[derive(Default)]
struct CachedValues {
    secrets: BTreeMap<String, Vec<u8>>,
    configs: BTreeMap<String, Vec<u8>>,
}

impl FileCache {
    /// Replaces the held values with those of an assignment answer.
    pub fn replace(&self, secrets: &[FilePayload], configs: &[FilePayload]) {
        let collect = |payloads: &[FilePayload]| payloads.iter().map(|p| (p.id.clone(), p.data.clone())).collect();
        let mut values = self.0.lock().expect("file cache mutex");
        values.secrets = collect(secrets);
        values.configs = collect(configs);
    }

    /// The files `task`'s container gets; `Rejected` naming the first secret or config this node holds no value
    /// of (the manager could not open it, or it was removed).
    pub fn for_task(&self, task: &Task) -> Result<TaskFiles, ExecError> {
        let values = self.0.lock().expect("file cache mutex");
        let container = &task.spec.container_spec;
        let secrets = container.secrets.iter().map(|r| (FileKind::Secret, &r.secret_id, &r.secret_name, &r.file));
        let configs = container.configs.iter().map(|r| (FileKind::Config, &r.config_id, &r.config_name, &r.file));
        let mut files = Vec::new();
        for (kind, id, name, target) in secrets.chain(configs) {
            let held = match kind {
                FileKind::Secret => values.secrets.get(id),
                FileKind::Config => values.configs.get(id),
            };
            let data = held.ok_or_else(|| {
                ExecError::Rejected(format!("{} {name} ({id}) is not available to this node", kind.as_str()))
            })?;
            files.push(task_file(kind, id, name, target, data.clone())?);
        }
        Ok(TaskFiles(files))
    }
}

fn task_file(kind: FileKind, id: &str, name: &str, target: &FileTarget, data: Vec<u8>) -> Result<TaskFile, ExecError> {
    let number = |field: &str, value: &str| {
        value.parse::<u32>().map_err(|_| {
            ExecError::Rejected(format!("{} {name}: {field} must be a number, not \"{value}\"", kind.as_str()))
        })
    };
    Ok(TaskFile {
        kind,
        object_id: id.to_string(),
        object_name: name.to_string(),
        path: target.container_path(kind),
        uid: number("uid", &target.uid)?,
        gid: number("gid", &target.gid)?,
        mode: target.mode,
        data,
    })
}
