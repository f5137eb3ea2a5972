//! A hostile language guest: each entry breaks the contract in its own way.
use camel_wasm_guest::Rule;
use camel_wasm_guest::prelude::*;

struct Chaos;

impl Chaos {
    fn trap(_: &Exchange) -> Result<bool, Error> {
        panic!("the predicate trapped")
    }
    fn spin(_: &Exchange) -> Result<bool, Error> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
    fn fail(_: &Exchange) -> Result<bool, Error> {
        Err(Error::processor("no decision today"))
    }
    fn never(_: &Exchange) -> Result<bool, Error> {
        Ok(false)
    }
    fn count(ex: &Exchange) -> Result<bool, Error> {
        // A predicate may use its state; `set_property` is not applied to the exchange.
        camel_wasm_guest::set_property("chaos.seen", "true");
        let seen = state::increment("seen", 1)?;
        Ok(seen % 2 == 0 || ex.property_str("force") == Some("yes"))
    }
}

impl Language for Chaos {
    const ENTRIES: &'static [Entry] = &[
        Entry::new("not-json", Rule::Expression(|_| Ok("this is not json".into()))),
        Entry::new("trap", Rule::Predicate(Self::trap)),
        Entry::new("spin", Rule::Predicate(Self::spin)),
        Entry::new("fail", Rule::Predicate(Self::fail)),
        Entry::new("never", Rule::Predicate(Self::never)),
        Entry::new("even-calls", Rule::Predicate(Self::count)),
    ];
}

export_language!(Chaos);
