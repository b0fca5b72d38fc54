//! Reading a service's `deploy:` block: mode (services and jobs), replicas, labels, update and rollback
//! configuration, resources, restart policy, placement and endpoint mode. Values Swarm acts on are checked here,
//! where the file position is known, rather than when the daemon refuses them: modes, conditions, failure actions
//! and orders must be ones Swarm knows, CPU counts must parse, memory sizes must be sizes.

use super::decode::{item, join, Decoder};
use super::error::ComposeError;
use super::keys;
use super::model::{
    DeployConfig, DeployMode, EndpointMode, FailureAction, GenericResource, Placement, ResourceLimit,
    ResourceReservation, Resources, RestartCondition, RestartPolicy, UpdateConfig, UpdateOrder,
};
use super::scalar::{parse_nano_cpus, parse_ram_in_bytes};
use super::yaml::Node;

impl Decoder<'_> {
    pub fn deploy(&mut self, node: &Node, path: &str) -> Result<DeployConfig, ComposeError> {
        let mut deploy = DeployConfig::default();
        for entry in self.mapping_or_null(node, path)? {
            if !self.check_key(entry, path, &keys::DEPLOY)? {
                continue;
            }
            let p = join(path, &entry.key);
            let value = &entry.value;
            match entry.key.as_str() {
                "mode" => deploy.mode = Some(self.enumeration(value, &p, &DeployMode::ALL)?),
                "endpoint_mode" => deploy.endpoint_mode = Some(self.enumeration(value, &p, &EndpointMode::ALL)?),
                "replicas" => deploy.replicas = Some(self.unsigned(value, &p)?),
                "labels" => deploy.labels = self.string_mapping(value, &p)?,
                "rollback_config" => deploy.rollback_config = Some(self.update_config(value, &p, true)?),
                "update_config" => deploy.update_config = Some(self.update_config(value, &p, false)?),
                "resources" => deploy.resources = self.resources(value, &p)?,
                "restart_policy" => deploy.restart_policy = Some(self.restart_policy(value, &p)?),
                "placement" => deploy.placement = self.placement(value, &p)?,
                other => unreachable!("deploy key {other}"),
            }
        }
        if deploy.replicas.is_some() && matches!(deploy.mode, Some(DeployMode::Global | DeployMode::GlobalJob)) {
            let replicas = self.mapping_or_null(node, path)?.iter().find(|e| e.key == "replicas");
            let position = replicas.map(|e| e.key_position).unwrap_or(node.position);
            return Err(self.error(
                position,
                &join(path, "replicas"),
                "replicas can only be used with replicated or replicated-job mode",
            ));
        }
        Ok(deploy)
    }

    fn update_config(&mut self, node: &Node, path: &str, rollback: bool) -> Result<UpdateConfig, ComposeError> {
        let mut config = UpdateConfig::default();
        for entry in self.mapping(node, path)? {
            if !self.check_key(entry, path, &keys::UPDATE_CONFIG)? {
                continue;
            }
            let p = join(path, &entry.key);
            let value = &entry.value;
            match entry.key.as_str() {
                "parallelism" => config.parallelism = Some(self.unsigned(value, &p)?),
                "delay" => config.delay = self.non_negative_duration(value, &p)?,
                "failure_action" => {
                    let allowed: &[(&str, FailureAction)] =
                        if rollback { &FailureAction::ALL[..2] } else { &FailureAction::ALL };
                    config.failure_action = Some(self.enumeration(value, &p, allowed)?);
                }
                "monitor" => config.monitor = self.non_negative_duration(value, &p)?,
                "max_failure_ratio" => {
                    let ratio = self.number(value, &p)?;
                    if !(0.0..=1.0).contains(&ratio) {
                        return Err(self.error(
                            value.position,
                            &p,
                            format!("expected a ratio between 0 and 1, found {}", value.value.describe()),
                        ));
                    }
                    config.max_failure_ratio = ratio as f32;
                }
                "order" => config.order = Some(self.enumeration(value, &p, &UpdateOrder::ALL)?),
                other => unreachable!("update_config key {other}"),
            }
        }
        Ok(config)
    }

    fn non_negative_duration(&self, node: &Node, path: &str) -> Result<super::duration::Duration, ComposeError> {
        let duration = self.duration(node, path)?;
        if duration.nanos < 0 {
            return Err(self.error(node.position, path, format!("expected a duration of 0 or more, found {duration}")));
        }
        Ok(duration)
    }

    fn resources(&mut self, node: &Node, path: &str) -> Result<Resources, ComposeError> {
        let mut resources = Resources::default();
        for entry in self.mapping(node, path)? {
            if !self.check_key(entry, path, &keys::RESOURCES)? {
                continue;
            }
            let p = join(path, &entry.key);
            let value = &entry.value;
            match entry.key.as_str() {
                "limits" => {
                    let mut limit = ResourceLimit::default();
                    for field in self.mapping(value, &p)? {
                        if !self.check_key(field, &p, &keys::LIMITS)? {
                            continue;
                        }
                        let q = join(&p, &field.key);
                        match field.key.as_str() {
                            "cpus" => limit.cpus = self.cpus(&field.value, &q)?,
                            "memory" => limit.memory_bytes = self.memory(&field.value, &q)?,
                            "pids" => limit.pids = self.integer(&field.value, &q)?,
                            other => unreachable!("limits key {other}"),
                        }
                    }
                    resources.limits = Some(limit);
                }
                "reservations" => {
                    let mut reservation = ResourceReservation::default();
                    for field in self.mapping(value, &p)? {
                        if !self.check_key(field, &p, &keys::RESERVATIONS)? {
                            continue;
                        }
                        let q = join(&p, &field.key);
                        match field.key.as_str() {
                            "cpus" => reservation.cpus = self.cpus(&field.value, &q)?,
                            "memory" => reservation.memory_bytes = self.memory(&field.value, &q)?,
                            "generic_resources" => {
                                reservation.generic_resources = self.generic_resources(&field.value, &q)?
                            }
                            other => unreachable!("reservations key {other}"),
                        }
                    }
                    resources.reservations = Some(reservation);
                }
                other => unreachable!("resources key {other}"),
            }
        }
        Ok(resources)
    }

    fn cpus(&self, node: &Node, path: &str) -> Result<String, ComposeError> {
        let text = self.string(node, path)?;
        parse_nano_cpus(&text)
            .map_err(|why| self.error(node.position, path, format!("invalid CPU count {text:?}: {why}")))?;
        Ok(text)
    }

    fn memory(&self, node: &Node, path: &str) -> Result<i64, ComposeError> {
        let text = self.string(node, path)?;
        parse_ram_in_bytes(&text)
            .map_err(|why| self.error(node.position, path, format!("invalid memory size {text:?}: {why}")))
    }

    fn generic_resources(&mut self, node: &Node, path: &str) -> Result<Vec<GenericResource>, ComposeError> {
        let mut out = Vec::new();
        for (index, item_node) in self.sequence(node, path)?.iter().enumerate() {
            let p = item(path, index);
            let mut resource = GenericResource::default();
            for entry in self.mapping(item_node, &p)? {
                if !self.check_key(entry, &p, &keys::GENERIC_RESOURCE)? {
                    continue;
                }
                let q = join(&p, &entry.key);
                for field in self.mapping(&entry.value, &q)? {
                    if !self.check_key(field, &q, &keys::DISCRETE_RESOURCE_SPEC)? {
                        continue;
                    }
                    let r = join(&q, &field.key);
                    match field.key.as_str() {
                        "kind" => resource.kind = self.string(&field.value, &r)?,
                        "value" => resource.value = self.integer(&field.value, &r)?,
                        other => unreachable!("discrete_resource_spec key {other}"),
                    }
                }
            }
            out.push(resource);
        }
        Ok(out)
    }

    fn restart_policy(&mut self, node: &Node, path: &str) -> Result<RestartPolicy, ComposeError> {
        let mut policy = RestartPolicy::default();
        for entry in self.mapping(node, path)? {
            if !self.check_key(entry, path, &keys::RESTART_POLICY)? {
                continue;
            }
            let p = join(path, &entry.key);
            let value = &entry.value;
            match entry.key.as_str() {
                "condition" => policy.condition = Some(self.enumeration(value, &p, &RestartCondition::ALL)?),
                "delay" => policy.delay = Some(self.non_negative_duration(value, &p)?),
                "max_attempts" => policy.max_attempts = Some(self.unsigned(value, &p)?),
                "window" => policy.window = Some(self.non_negative_duration(value, &p)?),
                other => unreachable!("restart_policy key {other}"),
            }
        }
        Ok(policy)
    }

    fn placement(&mut self, node: &Node, path: &str) -> Result<Placement, ComposeError> {
        let mut placement = Placement::default();
        for entry in self.mapping(node, path)? {
            if !self.check_key(entry, path, &keys::PLACEMENT)? {
                continue;
            }
            let p = join(path, &entry.key);
            let value = &entry.value;
            match entry.key.as_str() {
                "constraints" => {
                    let items = self.sequence(value, &p)?;
                    for (index, item_node) in items.iter().enumerate() {
                        placement.constraints.push(self.string(item_node, &item(&p, index))?);
                    }
                }
                "preferences" => {
                    for (index, item_node) in self.sequence(value, &p)?.iter().enumerate() {
                        let q = item(&p, index);
                        for field in self.mapping(item_node, &q)? {
                            if self.check_key(field, &q, &keys::PREFERENCE)? {
                                placement.preferences.push(self.string(&field.value, &join(&q, &field.key))?);
                            }
                        }
                    }
                }
                "max_replicas_per_node" => placement.max_replicas_per_node = self.unsigned(value, &p)?,
                other => unreachable!("placement key {other}"),
            }
        }
        Ok(placement)
    }
}
