-- The role stays: other databases of the cluster may still grant to it.
REVOKE ALL ON users, tasks, idempotency_keys, time_zones FROM task_api_app;
REVOKE USAGE ON SCHEMA public FROM task_api_app;
