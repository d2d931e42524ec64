//! Tests against a real cgroup v2 hierarchy.
