//! Where the registry Wharf starts keeps its images: the data directory's `registry/`, or the
//! S3 bucket the `--registry-s3-*` flags name. The secret key comes from the environment or a
//! file and goes into the registry's config only (a file of the data directory, mode 600).

use std::path::Path;

use app::backend::registry_config::{S3Credentials, S3Storage, Storage};

use crate::cli::RegistryS3Args;
use crate::startup_error::StartupError;

/// The secret access key, when not in a file.
pub const SECRET_KEY_VAR: &str = "WHARF_REGISTRY_S3_SECRET_KEY";

/// The storage the flags ask for; the filesystem directory is made when it is missing.
pub fn from_args(args: &RegistryS3Args, data_dir: &Path) -> Result<Storage, StartupError> {
    let Some(bucket) = args.bucket.clone().filter(|b| !b.trim().is_empty()) else {
        let dir = data_dir.join("registry");
        std::fs::create_dir_all(&dir).map_err(|e| StartupError::DataDir {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
        return Ok(Storage::Filesystem(dir));
    };
    if let Some(endpoint) = &args.endpoint {
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
            return Err(StartupError::Other(format!(
                "--registry-s3-endpoint must be an http:// or https:// URL, not {endpoint}"
            )));
        }
    }
    let secret = secret_key(args, std::env::var(SECRET_KEY_VAR).ok())?;
    let credentials = match (args.access_key.clone().filter(|k| !k.is_empty()), secret) {
        (Some(access_key), Some(secret_key)) => Some(S3Credentials { access_key, secret_key }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(StartupError::Other(format!(
                "--registry-s3-access-key needs its secret key: set {SECRET_KEY_VAR} or --registry-s3-secret-key-file"
            )))
        }
        (None, Some(_)) => {
            return Err(StartupError::Other(
                "an S3 secret key is set without its --registry-s3-access-key".into(),
            ))
        }
    };
    Ok(Storage::S3(S3Storage {
        bucket,
        region: args.region.clone(),
        endpoint: args.endpoint.clone(),
        path_style: args.path_style,
        root_directory: args.root_directory.clone().filter(|r| !r.is_empty()),
        credentials,
    }))
}

/// The secret key from its file (which wins) or from `from_env`; never printed.
fn secret_key(args: &RegistryS3Args, from_env: Option<String>) -> Result<Option<String>, StartupError> {
    let secret = match &args.secret_key_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| {
                    StartupError::Other(format!("cannot read the S3 secret key file {}: {e}", path.display()))
                })?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        ),
        None => from_env,
    };
    Ok(secret.filter(|s| !s.is_empty()))
}

/// What the log says about the storage: the place, never a key.
pub fn describe(storage: &Storage) -> String {
    match storage {
        Storage::Filesystem(dir) => format!("filesystem {}", dir.display()),
        Storage::S3(s3) => {
            let endpoint = s3.endpoint.as_ref().map_or("Amazon S3", |e| e.as_str());
            format!("S3 bucket {} ({}, {})", s3.bucket, s3.region, endpoint)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(bucket: Option<&str>) -> RegistryS3Args {
        RegistryS3Args {
            bucket: bucket.map(str::to_string),
            region: "us-east-1".into(),
            endpoint: None,
            path_style: false,
            root_directory: None,
            access_key: None,
            secret_key_file: None,
        }
    }

    #[test]
    fn without_a_bucket_the_images_stay_in_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let storage = from_args(&args(None), dir.path()).unwrap();
        assert_eq!(storage, Storage::Filesystem(dir.path().join("registry")));
        assert!(dir.path().join("registry").is_dir());
    }

    #[test]
    fn the_secret_key_comes_from_its_file_and_is_never_described() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "s3cr3t/key+x\n").unwrap();
        let mut s3 = args(Some("images"));
        s3.access_key = Some("AKIAEXAMPLE".into());
        s3.secret_key_file = Some(file);
        s3.endpoint = Some(url::Url::parse("http://127.0.0.1:9000").unwrap());
        let storage = from_args(&s3, dir.path()).unwrap();
        let Storage::S3(ref settings) = storage else {
            panic!("{storage:?}")
        };
        assert_eq!(settings.credentials.as_ref().unwrap().secret_key, "s3cr3t/key+x");
        let told = format!("{} {storage:?}", describe(&storage));
        assert!(!told.contains("s3cr3t"), "{told}");
        assert!(told.contains("images") && told.contains("127.0.0.1:9000"), "{told}");
    }

    #[test]
    fn a_key_needs_its_secret_and_the_endpoint_a_web_scheme() {
        let dir = tempfile::tempdir().unwrap();
        let mut s3 = args(Some("images"));
        s3.access_key = Some("AKIAEXAMPLE".into());
        let err = from_args(&s3, dir.path()).unwrap_err().to_string();
        assert!(err.contains(SECRET_KEY_VAR), "{err}");
        assert_eq!(
            secret_key(&s3, Some("from-env".into())).unwrap().as_deref(),
            Some("from-env")
        );

        let mut s3 = args(Some("images"));
        s3.endpoint = Some(url::Url::parse("ftp://host/").unwrap());
        let err = from_args(&s3, dir.path()).unwrap_err().to_string();
        assert!(err.contains("--registry-s3-endpoint"), "{err}");
    }
}
