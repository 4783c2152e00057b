//! Profile: the signed-in user's password, personal access tokens for registry clients, the
//! registry logins clients keep (refresh tokens), and the `docker login` line. A token created
//! with JavaScript off comes back in the page the form's redirect lands on, once.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::access::{profile, ChangePassword, CreateToken, RevokeRefreshToken, RevokeToken};
use crate::components::confirm_form::ConfirmForm;
use crate::components::copy_button::CopyButton;
use crate::components::error_panel::ErrorPanel;
use crate::components::format::ms_to_display;
use crate::components::new_secret::NewSecretPanel;
use crate::model::{ProfileView, RefreshTokenView, TokenView};

#[component]
pub fn ProfilePage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let change = ServerAction::<ChangePassword>::new();
    let end_login = ServerAction::<RevokeRefreshToken>::new();
    let data = Resource::new(
        move || {
            (
                create.version().get(),
                revoke.version().get(),
                end_login.version().get(),
            )
        },
        |_| profile(),
    );
    view! {
        <Title text="Profile"/>
        <h1>"Profile"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading your profile…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view_data) => view! { <ProfileBody view_data create revoke change end_login/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ProfileBody(
    view_data: ProfileView,
    create: ServerAction<CreateToken>,
    revoke: ServerAction<RevokeToken>,
    change: ServerAction<ChangePassword>,
    end_login: ServerAction<RevokeRefreshToken>,
) -> impl IntoView {
    let now = view_data.generated_at_ms;
    let kept_token = view_data.new_token.map(|secret| view! { <NewSecretPanel secret/> });
    view! {
        <section>
            <h2>{format!("Signed in as {}", view_data.username)}</h2>
            <p>"Log in from docker, podman or skopeo with your password or a personal access token:"</p>
            <div class="copy-row">
                <code>{view_data.docker_login.clone()}</code>
                <CopyButton text=view_data.docker_login.clone() label="Copy command"/>
            </div>
        </section>
        <section>
            <h2>"Personal access tokens"</h2>
            <p class="hint">
                "A token works wherever your password does for registry clients, and can be revoked on its own. "
                "Single sign-on users log in to the registry with a token."
            </p>
            <ActionForm action=create attr:class="form-row">
                <label>"Name" <input type="text" name="name" required maxlength="64" placeholder="laptop, ci"/></label>
                <label>"Expires in days (0: never)" <input type="number" name="days" min="0" value="90" required/></label>
                <button type="submit" class="primary">"Create token"</button>
            </ActionForm>
            {kept_token}
            {move || create.value().get().map(|result| match result {
                Ok(secret) => view! { <NewSecretPanel secret/> }.into_any(),
                Err(error) => view! { <ErrorPanel error/> }.into_any(),
            })}
            {move || revoke.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorPanel error/> })}
            {if view_data.tokens.is_empty() {
                view! { <p class="panel empty">"No tokens yet."</p> }.into_any()
            } else {
                view! {
                    <table class="data tokens">
                        <TokensHead/>
                        <tbody>
                            {view_data.tokens.into_iter().map(|token| view! { <TokenRow token revoke now/> }).collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            }}
        </section>
        <RegistryLogins logins=view_data.refresh_tokens end_login/>
        <section>
            <h2>"Change password"</h2>
            <ActionForm action=change attr:class="form-row">
                <label>"Current password" <input type="password" name="current" required autocomplete="current-password" maxlength="1024"/></label>
                <label>"New password" <input type="password" name="new_password" required minlength="8" maxlength="1024" autocomplete="new-password"/></label>
                <button type="submit">"Change password"</button>
            </ActionForm>
            {move || change.value().get().map(|result| match result {
                Ok(()) => view! { <p class="banner banner-ok" role="status">"Password changed. Registry clients logged in with the old one must log in again."</p> }.into_any(),
                Err(error) => view! { <ErrorPanel error/> }.into_any(),
            })}
        </section>
    }
}

/// The refresh tokens registry clients keep after `docker login`, each with Revoke.
#[component]
fn RegistryLogins(logins: Vec<RefreshTokenView>, end_login: ServerAction<RevokeRefreshToken>) -> impl IntoView {
    view! {
        <section>
            <h2>"Registry logins"</h2>
            <p class="hint">
                "What docker and other clients keep after logging in, to log in again without your password. "
                "Each stops working at the date shown; revoke one you do not recognise."
            </p>
            {move || end_login.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorPanel error/> })}
            {if logins.is_empty() {
                view! { <p class="panel empty">"No registry client keeps a login."</p> }.into_any()
            } else {
                view! {
                    <table class="data refresh-tokens">
                        <thead>
                            <tr>
                                <th scope="col">"Client"</th>
                                <th scope="col">"Logged in with"</th>
                                <th scope="col">"Created"</th>
                                <th scope="col">"Expires"</th>
                                <th scope="col">"Last used"</th>
                                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                            </tr>
                        </thead>
                        <tbody>
                            {logins.into_iter().map(|login| view! { <RegistryLoginRow login end_login/> }).collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            }}
        </section>
    }
}

#[component]
fn RegistryLoginRow(login: RefreshTokenView, end_login: ServerAction<RevokeRefreshToken>) -> impl IntoView {
    let client = login.client.clone().unwrap_or_else(|| "unnamed client".into());
    let with = login
        .token_name
        .map(|name| format!("token {name}"))
        .unwrap_or_else(|| "password".into());
    view! {
        <tr>
            <td>{client.clone()}</td>
            <td>{with}</td>
            <td class="time">{ms_to_display(login.created_at_ms)}</td>
            <td class="time">{ms_to_display(login.expires_at_ms)}</td>
            <td class="time">{login.last_used_at_ms.map(ms_to_display).unwrap_or_else(|| "never".into())}</td>
            <td>
                <ConfirmForm summary="Revoke…" action=end_login id=login.id
                    warning="The client must log in again." button=format!("Revoke the login of {client}")/>
            </td>
        </tr>
    }
}

/// The header of a table of [`TokenRow`]s.
#[component]
pub fn TokensHead(#[prop(optional)] show_owner: bool) -> impl IntoView {
    view! {
        <thead>
            <tr>
                {show_owner.then(|| view! { <th scope="col">"User"</th> })}
                <th scope="col">"Name"</th>
                <th scope="col">"Created"</th>
                <th scope="col">"Expires"</th>
                <th scope="col">"Last used"</th>
                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
            </tr>
        </thead>
    }
}

/// A personal access token with Revoke; `show_owner` adds the user's column (the Access page).
#[component]
pub fn TokenRow(
    token: TokenView,
    revoke: ServerAction<RevokeToken>,
    now: i64,
    #[prop(optional)] show_owner: bool,
) -> impl IntoView {
    let expired = token.expires_at_ms.is_some_and(|at| at <= now);
    let revoke_label = if show_owner {
        format!("Revoke {} of {}", token.name, token.owner)
    } else {
        format!("Revoke {}", token.name)
    };
    view! {
        <tr>
            {show_owner.then(|| view! { <td>{token.owner.clone()}</td> })}
            <td>{token.name.clone()} {expired.then(|| view! { " " <span class="badge badge-danger">"expired"</span> })}</td>
            <td class="time">{ms_to_display(token.created_at_ms)}</td>
            <td class="time">{token.expires_at_ms.map(ms_to_display).unwrap_or_else(|| "never".into())}</td>
            <td class="time">{token.last_used_at_ms.map(ms_to_display).unwrap_or_else(|| "never".into())}</td>
            <td>
                <ConfirmForm summary="Revoke…" action=revoke id=token.id.clone()
                    warning="Clients using it are refused at once." button=revoke_label/>
            </td>
        </tr>
    }
}
