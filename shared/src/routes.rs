//! The route table: the one list that `local-api` serves and that
//! `template.yaml` and the `cargo lambda watch` router must match (a test
//! holds them together).

/// One endpoint: its method, its path template (API Gateway syntax), and
/// the function (binary) that serves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// `"GET /api/{user_id}/tasks"`, as API Gateway names routes.
    pub key: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub function: &'static str,
}

macro_rules! route {
    ($method:literal, $path:literal, $function:literal) => {
        Route {
            key: concat!($method, " ", $path),
            method: $method,
            path: $path,
            function: $function,
        }
    };
}

pub const LIST_TASKS: Route = route!("GET", "/api/{user_id}/tasks", "list-tasks");
pub const CREATE_TASK: Route = route!("POST", "/api/{user_id}/tasks", "create-task");
pub const GET_TASK: Route = route!("GET", "/api/{user_id}/tasks/{task_id}", "get-task");
pub const UPDATE_TASK: Route = route!("PUT", "/api/{user_id}/tasks/{task_id}", "update-task");
pub const DELETE_TASK: Route = route!("DELETE", "/api/{user_id}/tasks/{task_id}", "delete-task");
pub const COMPLETE_TASK: Route = route!(
    "PATCH",
    "/api/{user_id}/tasks/{task_id}/complete",
    "complete-task"
);
pub const LIST_TRASH: Route = route!("GET", "/api/{user_id}/trash", "list-trash");
pub const RESTORE_TASK: Route = route!(
    "POST",
    "/api/{user_id}/trash/{task_id}/restore",
    "restore-task"
);
pub const DELETE_TASK_FOR_GOOD: Route = route!(
    "DELETE",
    "/api/{user_id}/trash/{task_id}",
    "delete-task-for-good"
);
pub const BATCH_TASKS: Route = route!("POST", "/api/{user_id}/tasks/batch", "batch-tasks");
pub const TASK_HISTORY: Route = route!(
    "GET",
    "/api/{user_id}/tasks/{task_id}/history",
    "task-history"
);
pub const LIST_CHANGES: Route = route!("GET", "/api/{user_id}/changes", "list-changes");
pub const HEALTH: Route = route!("GET", "/health", "health");

pub const ROUTES: [Route; 13] = [
    LIST_TASKS,
    CREATE_TASK,
    GET_TASK,
    UPDATE_TASK,
    DELETE_TASK,
    COMPLETE_TASK,
    LIST_TRASH,
    RESTORE_TASK,
    DELETE_TASK_FOR_GOOD,
    BATCH_TASKS,
    TASK_HISTORY,
    LIST_CHANGES,
    HEALTH,
];
