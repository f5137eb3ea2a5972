//! `get-property` and `set-property`: the properties of the exchange in flight.

use super::HostCtx;

impl HostCtx {
    /// The wire value of property `key` of the exchange being processed.
    pub(crate) fn property(&self, key: &str) -> Option<String> {
        self.properties.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    /// Sets property `key`; it is on the exchange handed back to the caller.
    pub(crate) fn set_property(&mut self, key: String, value: String) {
        match self.properties.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.properties.push((key.clone(), value)),
        }
        if !self.set_properties.contains(&key) {
            self.set_properties.push(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::host::{Endpoints, HostCtx, StateStore};

    #[test]
    fn reads_and_writes_the_exchange_in_flight() {
        let mut ctx = HostCtx::new(Endpoints::new(), StateStore::default());
        ctx.begin_call(vec![("a".into(), "1".into()), ("b".into(), "x".into())]);
        assert_eq!(ctx.property("a").as_deref(), Some("1"));
        assert_eq!(ctx.property("zz"), None);
        ctx.set_property("b".into(), "y".into());
        ctx.set_property("c".into(), "new".into());
        assert_eq!(ctx.property("c").as_deref(), Some("new"));
        let set = ctx.end_call();
        assert_eq!(set, vec![("b".to_string(), "y".to_string()), ("c".to_string(), "new".to_string())]);
        assert_eq!(ctx.property("a"), None, "nothing leaks into the next call");
    }
}
