DROP TRIGGER tasks_count_deleted ON tasks;
DROP TRIGGER tasks_count_inserted ON tasks;
DROP FUNCTION tasks_count_deleted();
DROP FUNCTION tasks_count_inserted();
DROP TRIGGER tasks_count_per_user ON tasks;
CREATE TRIGGER tasks_count_per_user
    AFTER INSERT OR DELETE OR UPDATE OF user_id ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_count_per_user();
