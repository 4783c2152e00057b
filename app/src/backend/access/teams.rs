//! Teams: named groups of users; an assignment to a team applies to each member.

use sqlx::FromRow;

use crate::backend::db::{now_ms, Db};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct TeamRecord {
    pub id: String,
    pub name: String,
    pub members: i64,
    /// The provider group it follows (single sign-on), if any.
    pub sso_group: Option<String>,
}

const COLUMNS: &str = "t.id, t.name, (SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id) AS members, \
    NULLIF(t.sso_group, '') AS sso_group";

pub async fn list(db: &Db) -> Result<Vec<TeamRecord>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM teams t ORDER BY t.name"))
        .fetch_all(&db.pool)
        .await
}

pub async fn find_by_name(db: &Db, name: &str) -> Result<Option<TeamRecord>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM teams t WHERE t.name = $1"))
        .bind(name)
        .fetch_optional(&db.pool)
        .await
}

/// `None` when the name is taken.
pub async fn create(db: &Db, name: &str) -> Result<Option<TeamRecord>, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    if sqlx::query("SELECT 1 AS x FROM teams WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query("INSERT INTO teams (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&id)
        .bind(name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(TeamRecord {
        id,
        name: name.to_string(),
        members: 0,
        sso_group: None,
    }))
}

/// Deletes a team with its memberships and assignments.
pub async fn delete(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    for sql in [
        "DELETE FROM role_assignments WHERE subject_kind = 'team' AND subject_id = $1",
        "DELETE FROM team_members WHERE team_id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *tx).await?;
    }
    let deleted = sqlx::query("DELETE FROM teams WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(deleted > 0)
}

/// Adds a member; `false` when they already are one.
pub async fn add_member(db: &Db, team_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    if sqlx::query("SELECT 1 AS x FROM team_members WHERE team_id = $1 AND user_id = $2")
        .bind(team_id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    sqlx::query("INSERT INTO team_members (team_id, user_id) VALUES ($1, $2)")
        .bind(team_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn remove_member(db: &Db, team_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
            .bind(team_id)
            .bind(user_id)
            .execute(&db.pool)
            .await?
            .rows_affected()
            > 0,
    )
}

/// Makes the team follow a provider group (empty: none). Members stay until their next sign-in.
pub async fn set_sso_group(db: &Db, team_id: &str, group: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("UPDATE teams SET sso_group = $1 WHERE id = $2")
        .bind((!group.is_empty()).then_some(group))
        .bind(team_id)
        .execute(&db.pool)
        .await?
        .rows_affected()
        > 0)
}

/// Every team's member names, sorted, by team id (one query for the whole Teams tab).
pub async fn member_names(db: &Db) -> Result<std::collections::HashMap<String, Vec<String>>, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.team_id, u.username FROM team_members m JOIN users u ON u.id = m.user_id ORDER BY u.username",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut members: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for (team, name) in rows {
        members.entry(team).or_default().push(name);
    }
    Ok(members)
}
