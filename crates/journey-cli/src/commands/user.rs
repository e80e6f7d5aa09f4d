//! `journey user add|assign|unassign|list`.

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
            let name = name.unwrap_or_else(|| username.clone());
            let (password, shown) = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| AppError::Internal(format!("standard input: {e}")))?;
                (line.trim_end_matches(['\r', '\n']).to_string(), false)
            } else {
                (random_password(), true)
            };
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
        UserAction::List => {
            let assignments = app.assignments().await?;
            for u in app.users().await? {
                let journeys: Vec<&str> = assignments
                    .iter()
                    .filter(|(name, _, _)| *name == u.username)
                    .map(|(_, _, key)| key.as_str())
                    .collect();
                println!(
                    "{:<24} {:<10} {:<24} {}",
                    u.username,
                    u.role.as_str(),
                    u.display_name,
                    journeys.join(" ")
                );
            }
            Ok(())
        }
    }
}
