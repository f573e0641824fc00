use herald::condition::Condition;
use herald::value::SystemClock;
fn main() {
    let srcs = [
        r#"Subscription == "paid" and Mailing_Country in ["FR", "BE"]"#,
        r#"a && b"#, r#"a || b"#, r#"!a"#, r#"a = 1"#, r#"a == 'x'"#, r#"a == "x"#, r#"a == "\q""#,
        r#"a < b < c"#, r#"a and"#, r#"(a and b"#, r#"a and b)"#, r#"foo(a)"#, r#"a == 99999999999999999999"#,
        r#"a == @2026-02-30"#, r#"a matches "(""#, r#"a b"#, r#"x == null"#, r#"not"#,
    ];
    for s in srcs {
        match Condition::compile(s, None) {
            Ok(c) => println!("OK {s}: {}", c.eval(&serde_json::json!({"Subscription":"paid","Mailing_Country":"FR"}), &SystemClock)),
            Err(e) => println!("{}", e.render()),
        }
    }
}
