//! `enroll DIR` and `import FILE`: fill an organisation's gallery in the
//! service's database from folders of photos or from face_recognition data.
//!
//! Both write with the service's configuration (`--config`, `FACEGATE_*`),
//! so the server finds the templates under the same model id the next time
//! it starts. A person is keyed by external id = folder (or pickle) name;
//! `enroll` rebuilds each person's templates from their photos, so running
//! it twice leaves the same gallery.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use facegate_core::Embedding;
use facegate_store::Store;
use facegate_store::models::{Organisation, Person, PersonFields};
use facegate_vision::session::Threading;
use facegate_vision::{Engine, EngineOptions};
use rayon::prelude::*;
use serde_json::json;

use super::{image_files, main_face};
use crate::output::{print_json, progress};
use crate::server_cmds::ConfigArgs;

#[derive(Debug, clap::Args)]
pub struct EnrollArgs {
    /// Folder of `<person>/<images>`.
    pub dir: PathBuf,
    /// Organisation name (default: the only one in the database).
    #[arg(long)]
    pub org: Option<String>,
    /// Enrol the largest face of a photo that shows several; without it
    /// such photos are skipped with a warning, since the person may not be
    /// the largest face in a group photo.
    #[arg(long)]
    pub largest_face: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// face_recognition `encodings.pickle` or a `facebank.csv` (name, values…).
    pub file: PathBuf,
    /// Organisation name (default: the only one in the database).
    #[arg(long)]
    pub org: Option<String>,
    /// Model id the encodings belong to (default: the `dlib` pack's, face_recognition's model).
    #[arg(long)]
    pub model_id: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

async fn pick_org(store: &Store, wanted: Option<&str>) -> anyhow::Result<Organisation> {
    let orgs = store.list_orgs().await?;
    match wanted {
        Some(name) => orgs
            .into_iter()
            .find(|o| o.name == name)
            .with_context(|| format!("no organisation named {name:?}")),
        None => match <[Organisation; 1]>::try_from(orgs) {
            Ok([org]) => Ok(org),
            Err(orgs) if orgs.is_empty() => {
                bail!("the database has no organisation yet; run `facegate init` first")
            }
            Err(_) => bail!("the database has several organisations; choose one with --org NAME"),
        },
    }
}

async fn person_for(store: &Store, org: &Organisation, name: &str) -> anyhow::Result<Person> {
    if let Some(person) = store.find_person_by_external_id(&org.id, name).await? {
        return Ok(person);
    }
    let fields = PersonFields {
        external_id: name.to_owned(),
        name: name.to_owned(),
        ..Default::default()
    };
    Ok(store.create_person(&org.id, &fields).await?)
}

pub fn enroll(json_output: bool, args: EnrollArgs) -> anyhow::Result<ExitCode> {
    facegate_server::restrict_umask();
    let config = args.config.load()?;
    let options = EngineOptions {
        threading: Threading::per_core(),
        // Enrolment photos come from anywhere; a sideways one must not
        // silently enrol nobody.
        auto_rotate: true,
        ..EngineOptions::new(config.models_dir())
    };
    let engine = Engine::load_installed(&config.pack, &options).with_context(|| {
        format!(
            "loading pack {:?} from {}",
            config.pack,
            config.models_dir().display()
        )
    })?;
    let people = person_dirs(&args.dir)?;
    let files: Vec<(String, PathBuf)> = people
        .iter()
        .map(|(name, dir)| {
            Ok(image_files(std::slice::from_ref(dir))?
                .into_iter()
                .map(|f| (name.clone(), f))
                .collect::<Vec<_>>())
        })
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let bar = progress(files.len(), "encoding");
    let encoded: Vec<_> = files
        .into_par_iter()
        .map(|(name, path)| {
            let result = encode(&engine, &path, args.largest_face);
            bar.inc(1);
            (name, path, result)
        })
        .collect();
    bar.finish_and_clear();

    let rt = runtime()?;
    let summary = rt.block_on(async {
        let store = facegate_server::open_store(&config, 2).await?;
        let org = pick_org(&store, args.org.as_deref()).await?;
        let mut rows = Vec::new();
        for (name, _) in &people {
            let person = person_for(&store, &org, name).await?;
            store.delete_all_templates(&org.id, &person.id).await?;
            let mut added = 0;
            let mut skipped = Vec::new();
            for (_, path, result) in encoded.iter().filter(|(n, _, _)| n == name) {
                match result {
                    Ok(Found::One(embedding, quality)) => {
                        store.add_template(&org.id, &person.id, engine.model_id(), embedding, f64::from(*quality), None).await?;
                        added += 1;
                    }
                    Ok(Found::None) => skipped.push(json!({"path": path, "reason": "no face found"})),
                    Ok(Found::Several(n)) => skipped.push(json!({"path": path, "faces": n,
                        "reason": format!("{n} faces found; pass --largest-face to enrol the largest")})),
                    Err(e) => skipped.push(json!({"path": path, "reason": format!("{e:#}")})),
                }
            }
            if !json_output {
                println!("{name}: {added} template(s)");
                for s in &skipped {
                    eprintln!("  skipped {}: {}", s["path"].as_str().unwrap_or(""), s["reason"].as_str().unwrap_or(""));
                }
            }
            rows.push(json!({"person": name, "person_id": person.id, "templates": added, "skipped": skipped}));
        }
        store.close().await;
        anyhow::Ok(json!({"organisation": org.name, "model": engine.model_id(), "people": rows}))
    })?;
    if json_output {
        print_json(&summary)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What an enrolment photo gave.
enum Found {
    One(Embedding, f32),
    None,
    /// Several faces and `--largest-face` not given: skipped.
    Several(usize),
}

fn encode(engine: &Engine, path: &Path, largest_face: bool) -> anyhow::Result<Found> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let analysis = engine.analyze(&bytes)?;
    if analysis.faces.len() > 1 && !largest_face {
        return Ok(Found::Several(analysis.faces.len()));
    }
    Ok(
        main_face(&analysis.faces, |f| f.face.bbox.area()).map_or(Found::None, |f| {
            Found::One(f.embedding.clone(), f.face.score)
        }),
    )
}

fn person_dirs(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut people: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter_map(|p| Some((p.file_name()?.to_string_lossy().to_string(), p)))
        .collect();
    people.sort();
    anyhow::ensure!(
        !people.is_empty(),
        "{} has no <person>/ folders",
        dir.display()
    );
    Ok(people)
}

pub fn import(json_output: bool, args: ImportArgs) -> anyhow::Result<ExitCode> {
    facegate_server::restrict_umask();
    let config = args.config.load()?;
    let limits = facegate_store::import::ImportLimits::default();
    let templates = facegate_store::import::import_file(&args.file, &limits)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let model_id = match args.model_id {
        Some(id) => id,
        None => facegate_models::pack::builtin("dlib")?.model_id(),
    };
    let rt = runtime()?;
    let summary = rt.block_on(async {
        let store = facegate_server::open_store(&config, 2).await?;
        let org = pick_org(&store, args.org.as_deref()).await?;
        let mut count = 0;
        for t in &templates {
            let person = person_for(&store, &org, &t.name).await?;
            let embedding = Embedding::from_raw(t.embedding.clone())
                .with_context(|| format!("encoding of {}", t.name))?;
            store
                .add_template(&org.id, &person.id, &model_id, &embedding, 1.0, None)
                .await?;
            count += 1;
        }
        store.close().await;
        anyhow::Ok(json!({"organisation": org.name, "model": model_id, "templates": count}))
    })?;
    if json_output {
        print_json(&summary)?;
    } else {
        println!(
            "imported {} template(s) into {} as model {}",
            summary["templates"], summary["organisation"], summary["model"]
        );
    }
    Ok(ExitCode::SUCCESS)
}
