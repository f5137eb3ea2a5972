//! `camel-wasm inspect`: which world a component fits, its imports and exports.

use camel_wasm::{Bean, Language, Limits, Runtime, Source, SourceOptions, escape_control};

use crate::open::open;

/// Prints the worlds `file` fits (a bean's methods and a language's entries too), its imports and its exports.
pub async fn inspect(file: &str) -> Result<(), String> {
    let (runtime, name) = open(file)?;
    let progress = crate::progress::Progress::loading(std::path::Path::new(file));
    let info = runtime.inspect(&name).map_err(|e| e.to_string());
    drop(progress);
    let info = info?;
    match info.worlds.as_slice() {
        [] => println!("fits no world:\n  {}", escape_lines(&info.mismatches)),
        worlds => println!("world: {}", worlds.join(", ")),
    }
    if let Some(methods) = bean_methods(&runtime, &name, &info.worlds).await? {
        println!("methods: {}", escape_control(&methods.join(", ")));
    }
    if info.worlds.contains(&"language") {
        let language = Language::load(&runtime, &name, Limits::default(), Vec::new()).await.map_err(|e| e.to_string())?;
        let entries: Vec<_> = language.entries().iter().map(|e| format!("{} ({})", e.name, e.kind.as_str())).collect();
        println!("entries: {}", escape_control(&entries.join(", ")));
    }
    if info.worlds.contains(&"source") {
        println!("plan: {}", source_plan(&runtime, &name).await);
    }
    println!("imports:\n  {}", escape_lines(&info.imports));
    println!("exports:\n  {}", escape_lines(&info.exports));
    Ok(())
}

/// `lines`, each escaped, one per line indented by two spaces after the first.
fn escape_lines<S: AsRef<str>>(lines: &[S]) -> String {
    lines.iter().map(|line| escape_control(line.as_ref())).collect::<Vec<_>>().join("\n  ")
}

/// A bean's methods, when `worlds` has `bean`.
async fn bean_methods(runtime: &Runtime, name: &str, worlds: &[&str]) -> Result<Option<Vec<String>>, String> {
    if !worlds.contains(&"bean") {
        return Ok(None);
    }
    let bean = Bean::load(runtime, name, Limits::default(), Vec::new()).await.map_err(|e| e.to_string())?;
    Ok(Some(bean.methods().to_vec()))
}

/// A source's plan when configured with nothing, or why it cannot be made so.
async fn source_plan(runtime: &Runtime, name: &str) -> String {
    // No operator bind or path: the plan shows the guest's own defaults.
    let planned = match Source::load(runtime, name, Limits::default(), SourceOptions::default()) {
        Ok(source) => source.plan(Vec::new()).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match planned {
        Ok(plan) => escape_control(&plan.to_string()).into_owned(),
        Err(e) => format!("not known without its config ({})", escape_control(&e)),
    }
}
