//! `camel-wasm inspect`: which world a component fits, its imports and exports.

use camel_wasm::{Bean, Limits, Runtime, escape_control};

use crate::open::open;

/// Prints the worlds `file` fits (a bean's methods too), its imports and its exports.
pub async fn inspect(file: &str) -> Result<(), String> {
    let (runtime, name) = open(file)?;
    let info = runtime.inspect(&name).map_err(|e| e.to_string())?;
    match info.worlds.as_slice() {
        [] => println!("fits no world:\n  {}", escape_lines(&info.mismatches)),
        worlds => println!("world: {}", worlds.join(", ")),
    }
    if let Some(methods) = bean_methods(&runtime, &name, &info.worlds).await? {
        println!("methods: {}", escape_control(&methods.join(", ")));
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
