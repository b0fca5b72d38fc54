//! Test-only: builds `swarm_core::Store`s for the checkers' unit tests through `Store::apply`, the one way a
//! store changes, so every store a test judges is one the cluster could really hold.
use swarm_core::{
    ClusterSettings, Command, Node, NodeAvailability, NodeDescription, NodeRole, NodeSpec, NodeState, NodeStatus,
    Proposal, ServiceSpec, Store, Task, TaskSpec, TaskState, TaskStatus, Timestamp,
};

pub struct StoreBuilder {
    pub store: Store,
    pub now: u64,
}

impl StoreBuilder {
    pub fn new() -> StoreBuilder {
        let mut builder = StoreBuilder { store: Store::new(), now: 1_000 };
        builder.apply(Command::InitCluster {
            cluster_id: "cluster".into(),
            settings: ClusterSettings::default(),
            join_tokens: swarm_core::JoinTokens::from_parts("digest", "worker", "manager"),
        });
        builder
    }

    pub fn apply(&mut self, command: Command) -> &mut StoreBuilder {
        self.now += 1;
        let name = command.name();
        if let Err(rejection) = self.store.apply(&Proposal::new(Timestamp(self.now), command)) {
            panic!("test store: {name} rejected: {rejection}");
        }
        self
    }

    /// A worker node, ready and active (change it with `node_with`, `node_state`, `availability`).
    pub fn node(&mut self, id: &str) -> &mut StoreBuilder {
        self.node_with(id, |_| {})
    }

    /// A ready, active worker node as `change` leaves it.
    pub fn node_with(&mut self, id: &str, change: impl FnOnce(&mut Node)) -> &mut StoreBuilder {
        let description = NodeDescription { hostname: format!("host-{id}"), ..NodeDescription::default() };
        let spec = NodeSpec { role: NodeRole::Worker, ..NodeSpec::default() };
        let mut node = Node::new(id, spec, description);
        node.status = NodeStatus { state: NodeState::Ready, message: String::new(), addr: String::new() };
        change(&mut node);
        self.apply(Command::CreateNode { node })
    }

    pub fn node_state(&mut self, id: &str, state: NodeState) -> &mut StoreBuilder {
        let status = NodeStatus { state, ..self.store.node(id).expect("known node").status.clone() };
        self.apply(Command::SetNodeStatus { id: id.into(), status })
    }

    pub fn availability(&mut self, id: &str, availability: NodeAvailability) -> &mut StoreBuilder {
        let node = self.store.node(id).expect("known node");
        let spec = NodeSpec { availability, ..node.spec.clone() };
        let version = node.version;
        self.apply(Command::UpdateNode { id: id.into(), version, spec })
    }

    pub fn service(&mut self, id: &str, spec: ServiceSpec) -> &mut StoreBuilder {
        self.apply(Command::CreateService { service_id: id.into(), spec })
    }

    /// A task of `service` (its spec is the service's template) in observed state `state`, desired `desired`.
    pub fn task(
        &mut self,
        id: &str,
        service: &str,
        slot: Option<u64>,
        node: Option<&str>,
        state: TaskState,
        desired: TaskState,
    ) -> &mut StoreBuilder {
        let spec: TaskSpec = self.store.service(service).expect("known service").spec.task_template.clone();
        let mut task = Task::new(id, service, slot, spec);
        task.node_id = node.map(str::to_string);
        task.desired_state = desired;
        task.status = TaskStatus { state, timestamp: Timestamp(self.now), ..TaskStatus::default() };
        self.apply(Command::CreateTasks { tasks: vec![task] })
    }

    /// Moves task `id` to observed state `state`.
    pub fn set_state(&mut self, id: &str, state: TaskState) -> &mut StoreBuilder {
        let status = TaskStatus { state, timestamp: Timestamp(self.now), ..TaskStatus::default() };
        self.apply(Command::UpdateTaskStatus { id: id.into(), status })
    }

    pub fn set_desired(&mut self, id: &str, desired_state: TaskState) -> &mut StoreBuilder {
        self.apply(Command::SetTaskDesiredState { id: id.into(), desired_state })
    }

    pub fn remove_tasks(&mut self, ids: &[&str]) -> &mut StoreBuilder {
        self.apply(Command::RemoveTasks { ids: ids.iter().map(|id| id.to_string()).collect() })
    }

    pub fn build(&self) -> Store {
        self.store.clone()
    }
}
