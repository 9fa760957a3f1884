//! The components as the site shows them: ungrouped components and groups
//! in display order, each group where its first member is, its members
//! beneath it, a group's status the worst of its members', and positions
//! counted as Statuspage counts them (among siblings).
//!
//! Statuspage models a group as a component of its own (`group: true`) with
//! an id; Levee's view names groups only, so their ids are derived from the
//! name ([`super::ids::group_id`]). This module arranges; it must not render.

use super::ids::group_id;
use super::model::{ComponentStatus, ComponentView, PageView};

/// One entry of the components list.
#[derive(Debug)]
pub(crate) enum Entry<'a> {
    /// A component shown on its own.
    Single(&'a ComponentView),
    /// A group and its members, in display order.
    Group(Group<'a>),
}

/// A group of components.
#[derive(Debug)]
pub(crate) struct Group<'a> {
    /// Its derived id ([`group_id`]).
    pub(crate) id: String,
    /// Its name.
    pub(crate) name: &'a str,
    /// Its members, in display order (never empty).
    pub(crate) members: Vec<&'a ComponentView>,
}

impl Group<'_> {
    /// The worst of its members' statuses.
    pub(crate) fn status(&self) -> ComponentStatus {
        self.members
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(ComponentStatus::Operational)
    }

    /// The earliest of its members' `created_at`.
    pub(crate) fn created_at_ms(&self) -> i64 {
        self.members
            .iter()
            .map(|c| c.created_at_ms)
            .min()
            .unwrap_or(0)
    }

    /// The latest of its members' `updated_at`.
    pub(crate) fn updated_at_ms(&self) -> i64 {
        self.members
            .iter()
            .map(|c| c.updated_at_ms)
            .max()
            .unwrap_or(0)
    }
}

/// Where component (or group) `id` sits, as Statuspage counts: top-level
/// entries (groups and ungrouped components) from 1 in display order, a
/// group's members from 1 within it.
pub(crate) fn position(entries: &[Entry<'_>], id: &str) -> Option<u32> {
    let counted = |n: usize| u32::try_from(n + 1).unwrap_or(u32::MAX);
    entries.iter().enumerate().find_map(|(n, e)| match e {
        Entry::Single(c) => (c.id == id).then(|| counted(n)),
        Entry::Group(g) if g.id == id => Some(counted(n)),
        Entry::Group(g) => g.members.iter().position(|c| c.id == id).map(counted),
    })
}

/// The view's components arranged for display.
pub(crate) fn entries(view: &PageView) -> Vec<Entry<'_>> {
    let mut out: Vec<Entry<'_>> = Vec::new();
    for c in &view.components {
        let Some(name) = c.group.as_deref() else {
            out.push(Entry::Single(c));
            continue;
        };
        let existing = out.iter_mut().find_map(|e| match e {
            Entry::Group(g) if g.name == name => Some(g),
            _ => None,
        });
        match existing {
            Some(g) => g.members.push(c),
            None => out.push(Entry::Group(Group {
                id: group_id(name),
                name,
                members: vec![c],
            })),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status_site::sample;

    #[test]
    fn groups_sit_where_their_first_member_is_and_take_the_worst_status() {
        let view = sample::rich();
        let entries = entries(&view);
        let names: Vec<&str> = entries
            .iter()
            .map(|e| match e {
                Entry::Single(c) => c.name.as_str(),
                Entry::Group(g) => g.name,
            })
            .collect();
        assert_eq!(
            names,
            ["API", "Regions", "Website <script>alert(1)</script>"]
        );
        let Entry::Group(g) = &entries[1] else {
            panic!("a group")
        };
        assert_eq!(g.members.len(), 2);
        assert_eq!(g.status(), ComponentStatus::PartialOutage);
        assert_eq!(g.id, group_id("Regions"));
        let at = |id: &str| position(&entries, id);
        assert_eq!(at("api"), Some(1));
        assert_eq!(at(&group_id("Regions")), Some(2));
        assert_eq!(at("eu"), Some(1));
        assert_eq!(at("us"), Some(2));
        assert_eq!(at("web"), Some(3));
        assert_eq!(at("nope"), None);
    }
}
