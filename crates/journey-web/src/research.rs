//! The researcher's page: trigger the anonymized export (the same as `journey
//! research-export`) and download it as a zip. Every export is in the audit log.

use std::io::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use journey_app::research::Request;
use journey_app::{today, AppError, ProjectName, Role};
use minijinja::context;
use serde::Deserialize;

use super::auth::{self, PageUser};
use super::error::{PageError, PageForm, WebError};
use super::views::{frame, render};
use super::AppState;

#[derive(Deserialize)]
pub struct PreviewQuery {
    k: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    axum::extract::Query(query): axum::extract::Query<PreviewQuery>,
) -> Result<Response, PageError> {
    state
        .app
        .require(&signed.actor, Role::Researcher, "research_page")
        .await?;
    let (k, problem) = match query.k.as_deref().map(str::trim) {
        None | Some("") => (5, None),
        Some(text) => match text.parse::<usize>() {
            Ok(k) if k >= 1 => (k, None),
            _ => (5, Some(format!("k is a whole number of at least 1; {text:?} is not, so the preview is for k = 5."))),
        },
    };
    let preview = state.app.export_preview(&signed.actor, k).await?;
    let projects: Vec<serde_json::Value> = preview
        .projects
        .iter()
        .map(|(name, first, last, n)| {
            serde_json::json!({
                "name": name,
                "first": first.format("%Y-%m-%d").to_string(),
                "last": last.format("%Y-%m-%d").to_string(),
                "exports": n,
            })
        })
        .collect();
    let page = render(
        "research.html",
        context! {
            title => "Research export",
            frame => frame(&signed).await?,
            consented => preview.consented,
            suppressed => preview.suppressed,
            k,
            problem,
            projects,
        },
    )?;
    Ok(Html(page).into_response())
}

#[derive(Deserialize)]
pub struct ExportForm {
    csrf: String,
    project: String,
    #[serde(default)]
    min_cell: String,
}

pub async fn export(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    PageForm(form): PageForm<ExportForm>,
) -> Result<Response, PageError> {
    auth::check_csrf(
        &state,
        &signed.session,
        Some(&signed.actor),
        &form.csrf,
        "export",
    )
    .await?;
    state
        .app
        .require(&signed.actor, Role::Researcher, "research_export")
        .await?;
    let project = ProjectName::parse(form.project.trim()).map_err(AppError::from)?;
    let min_cell = match form.min_cell.trim() {
        "" => 5,
        text => text
            .parse::<usize>()
            .ok()
            .filter(|k| *k >= 1)
            .ok_or_else(|| WebError::Invalid {
                field: "min_cell".into(),
                message: format!("{text:?} is not a whole number of at least 1"),
            })?,
    };
    let folder =
        std::env::temp_dir().join(format!("journey-export-{}", uuid::Uuid::new_v4().simple()));
    let result = state
        .app
        .research_export(
            &signed.actor,
            &Request {
                project: &project,
                out: &folder,
                as_of: today(),
                min_cell,
                chunk_journeys: journey_app::research::CHUNK_JOURNEYS,
            },
        )
        .await;
    let zipped = result.map_err(WebError::from).and_then(|written| {
        zip_folder(&folder, &written.files).map_err(|e| WebError::Internal(format!("zip: {e}")))
    });
    let _ = std::fs::remove_dir_all(&folder);
    let bytes = zipped?;
    let name = format!("journey-research-{project}.zip");
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The files of `folder` in one zip, named relative to it.
fn zip_folder(folder: &std::path::Path, files: &[std::path::PathBuf]) -> Result<Vec<u8>, String> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for file in files {
            let name = file
                .strip_prefix(folder)
                .unwrap_or(file)
                .to_string_lossy()
                .to_string();
            zip.start_file(name, options).map_err(|e| e.to_string())?;
            let data = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
            zip.write_all(&data).map_err(|e| e.to_string())?;
        }
        zip.finish().map_err(|e| e.to_string())?;
    }
    Ok(out.into_inner())
}
