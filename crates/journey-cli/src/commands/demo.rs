//! `journey demo`: synthetic families, imported, reported, with demo accounts, then served.

use std::net::SocketAddr;
use std::path::Path;

use journey_app::accounts::random_password;
use journey_app::{today, Action, App, AppError, Role, Via};

use crate::synth;

pub async fn run(
    app: &App,
    seed: u64,
    families: usize,
    days: u32,
    serve: Option<SocketAddr>,
) -> Result<(), AppError> {
    let me = super::operator(Via::Demo);
    let synth = synth::Synth {
        seed,
        families,
        days,
        end: today(),
        prefix: "demo-family-".into(),
    };
    let lines = synth.generate();
    let mut text = lines.join("\n");
    text.push('\n');
    let folder = Path::new("reports/demo");
    std::fs::create_dir_all(folder)
        .map_err(|e| AppError::Internal(format!("{}: {e}", folder.display())))?;
    let file = folder.join(format!("families-seed-{seed}.jsonl"));
    std::fs::write(&file, &text)
        .map_err(|e| AppError::Internal(format!("{}: {e}", file.display())))?;
    println!(
        "generated {} families x {days} days ({} lines, seed {seed}) -> {}",
        families,
        lines.len(),
        file.display()
    );
    let report = app
        .import(
            &me,
            &mut text.as_bytes(),
            false,
            None,
            None,
            journey_app::import::BLOCK_LINES,
        )
        .await?;
    if let Some(first) = report.invalid.first() {
        return Err(AppError::Internal(format!(
            "the generator wrote an invalid line: {first}"
        )));
    }
    super::import::print_report(&file, &report, false);
    // The demo families agree to research use (a real family decides in the app or with
    // `journey consent`).
    for index in 0..families {
        let row = app
            .journey(
                &me,
                &journey_app::journey_key(&synth.key(index))?,
                Action::Write,
                "research consent",
            )
            .await?;
        app.consent(&me, &row, true, "v1").await?;
    }
    super::journeys::run(app, &me).await?;
    println!();
    let report = app.metrics(&me, None, today()).await?;
    print!("{}", super::metrics::table(&report));
    println!();
    println!("Progress reports (open in a browser):");
    let out = Path::new("reports");
    for key in report.journeys.iter().map(|j| j.journey.clone()) {
        for path in app
            .write_journey_report(
                &me,
                &journey_app::journey_key(&key)?,
                (None, today()),
                out,
                false,
                None,
            )
            .await?
        {
            println!("  {}", path.display());
        }
    }
    println!(
        "  {}",
        app.write_cohort_report(&me, today(), out).await?.display()
    );
    println!();
    println!("Next:");
    println!("  cargo run -p journey-cli -- metrics --format table                   # the figures, per journey");
    println!("  cargo run -p journey-cli -- export --raw --journey demo-family-0001   # the entries, as a journey file");
    println!(
        "  cargo run -p journey-cli -- journeys                                  # the journeys"
    );
    println!("  cargo run -p journey-cli -- research-export --project demo --out reports/research-demo   # anonymized dataset");
    println!(
        "  cargo run -p journey-cli -- serve                                     # the web app"
    );
    println!();
    let accounts = accounts(app, &synth).await?;
    match serve {
        Some(bind) => {
            let every = std::time::Duration::from_secs(60);
            journey_web::serve(app.clone(), bind, accounts, every).await
        }
        None => {
            for line in accounts {
                println!("{line}");
            }
            Ok(())
        }
    }
}

/// The demo's accounts, with new random passwords on every run; returns the lines that
/// show them.
async fn accounts(app: &App, synth: &synth::Synth) -> Result<Vec<String>, AppError> {
    let me = super::operator(Via::Demo);
    let families = synth.families;
    let people: [(&str, &str, Role, Vec<usize>); 5] = [
        ("ana", "Ana (mother)", Role::Family, vec![0]),
        ("ben", "Ben (brother)", Role::Family, vec![0]),
        (
            "carla",
            "Carla (counselor)",
            Role::Counselor,
            (0..families.min(6)).collect(),
        ),
        ("rhea", "Rhea (researcher)", Role::Researcher, vec![]),
        ("admin", "Admin", Role::Admin, vec![]),
    ];
    let mut lines = vec!["Demo accounts (new passwords on every run):".to_string()];
    for (username, name, role, journeys) in people {
        let password = random_password();
        let username = journey_app::Username::parse(username)?;
        app.add_user(&username, name, role, &password, true).await?;
        let mut keys = Vec::new();
        for index in journeys.into_iter().filter(|i| *i < families) {
            let key = journey_app::journey_key(&synth.key(index))?;
            app.assign(&me, &username, &key).await?;
            keys.push(synth.key(index));
        }
        let sees = match keys.len() {
            0 => String::new(),
            1 => format!("  (sees {})", keys[0]),
            n => format!("  (sees {} .. {}, {n} families)", keys[0], keys[n - 1]),
        };
        lines.push(format!(
            "  {:<10} {username:<6} password {password}{sees}",
            role.as_str()
        ));
    }
    lines.push(
        "  carla, rhea and admin set up a second factor (an authenticator app) at their first sign-in"
            .to_string(),
    );
    Ok(lines)
}
