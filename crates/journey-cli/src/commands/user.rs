//! `journey user add|assign|unassign|totp|password|sign-out|list`.

use journey_app::accounts::random_password;
use journey_app::{Actor, App, AppError};

use super::UserAction;

pub async fn run(app: &App, me: &Actor, action: UserAction) -> Result<(), AppError> {
    match action {
        UserAction::Add {
            username,
            role,
            name,
            password_stdin,
        } => {
            let name = name.unwrap_or_else(|| username.to_string());
            let (password, shown) = password_from(password_stdin)?;
            app.add_user(&username, &name, role.role(), &password, false)
                .await?;
            println!("added {} {username}", role.role().as_str());
            if shown {
                println!("password {password}  (shown once; only its hash is stored)");
            }
            Ok(())
        }
        UserAction::Assign { username, journey } => {
            if app.assign(me, &username, &journey).await? {
                println!("{username} may now see journey {journey}");
            } else {
                println!("{username} could already see journey {journey}: nothing changed");
            }
            Ok(())
        }
        UserAction::Unassign { username, journey } => {
            if !app.unassign(me, &username, &journey).await? {
                return Err(AppError::invalid(
                    "username",
                    format!("{username:?} was not assigned to journey {journey:?}"),
                ));
            }
            println!("{username} no longer sees journey {journey}");
            Ok(())
        }
        UserAction::Totp { username } => {
            let enrolment = app.enrol_second_factor(me, &username).await?;
            println!(
                "{username} now signs in with a second factor: add this to an authenticator app"
            );
            println!("{}", enrolment.uri);
            println!("secret {}  (to type in by hand)", enrolment.secret);
            println!("recovery codes, each works once (shown once; only their hashes are stored):");
            for code in &enrolment.recovery_codes {
                println!("  {code}");
            }
            Ok(())
        }
        UserAction::Password {
            username,
            password_stdin,
        } => {
            let (password, shown) = password_from(password_stdin)?;
            let ended = app.reset_password(me, &username, &password).await?;
            println!("{username} has a new password; {ended} session(s) of theirs ended");
            if shown {
                println!("password {password}  (shown once; only its hash is stored)");
            }
            Ok(())
        }
        UserAction::SignOut { username } => {
            let ended = app.end_sessions_of(me, &username).await?;
            println!("{ended} session(s) of {username} ended");
            Ok(())
        }
        UserAction::List => {
            let assignments = app.assignments().await?;
            for u in app.users().await? {
                let journeys: Vec<&str> = assignments
                    .iter()
                    .filter(|(name, _, _)| *name == u.username)
                    .map(|(_, _, key)| key.as_str())
                    .collect();
                let factor = if u.second_factor {
                    "totp"
                } else if u.needs_second_factor() {
                    "no-totp!"
                } else {
                    "-"
                };
                println!(
                    "{:<24} {:<10} {:<8} {:<24} {}",
                    u.username,
                    u.role.as_str(),
                    factor,
                    u.display_name,
                    journeys.join(" ")
                );
            }
            Ok(())
        }
    }
}

/// The password of standard input's first line, or a made-up one (then shown once).
fn password_from(stdin: bool) -> Result<(String, bool), AppError> {
    if !stdin {
        return Ok((random_password(), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| AppError::Internal(format!("standard input: {e}")))?;
    Ok((line.trim_end_matches(['\r', '\n']).to_string(), false))
}
