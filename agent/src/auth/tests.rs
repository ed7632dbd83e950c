use super::*;

fn hex(digest: [u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn file() -> TokenFile {
    let text = format!(
        "# name role credential\n\
         ci      admin {}   # the CI robot\n\
         \n\
         grafana read  {}\n\
         ops     admin cert\n\
         viewer  read  cert\n",
        hex(token_digest("admin-secret")),
        hex(token_digest("read-secret")).to_uppercase(),
    );
    TokenFile::parse(&text).expect("a valid tokens file")
}

fn tcp(cn: Option<&str>) -> Transport {
    Transport::Tcp {
        peer: "192.0.2.2:40000".parse().expect("addr"),
        certificate_cn: cn.map(str::to_string),
    }
}

#[test]
fn tokens_map_to_their_names_and_roles() {
    let policy = AuthPolicy::new(Some(file()), false, None);
    let caller = policy
        .authenticate(Some(b"Bearer admin-secret"), &tcp(None))
        .expect("admin");
    assert_eq!(
        caller,
        Caller {
            identity: "token:ci".into(),
            role: Role::Admin
        }
    );
    let caller = policy
        .authenticate(Some(b"bearer   read-secret "), &tcp(None))
        .expect("read");
    assert_eq!(
        caller,
        Caller {
            identity: "token:grafana".into(),
            role: Role::Read
        }
    );
}

#[test]
fn missing_unknown_or_malformed_credentials_are_refused() {
    let policy = AuthPolicy::new(Some(file()), false, None);
    assert_eq!(
        policy.authenticate(None, &tcp(None)),
        Err(AuthError::Missing)
    );
    assert_eq!(
        policy.authenticate(Some(b"Bearer nope"), &tcp(None)),
        Err(AuthError::UnknownToken)
    );
    for header in [
        &b"admin-secret"[..],
        b"Basic admin-secret",
        b"Bearer ",
        b"Bearer\xff\xfe",
    ] {
        assert_eq!(
            policy.authenticate(Some(header), &tcp(None)),
            Err(AuthError::MalformedHeader),
            "{header:?}"
        );
    }
    // A token the agent cannot check is a misconfiguration to surface, not something to ignore.
    let open = AuthPolicy::open();
    assert_eq!(
        open.authenticate(Some(b"Bearer admin-secret"), &tcp(None)),
        Err(AuthError::TokensNotAccepted)
    );
}

#[test]
fn certificates_map_through_the_file_then_the_default_role() {
    let strict = AuthPolicy::new(Some(file()), true, None);
    assert_eq!(
        strict.authenticate(None, &tcp(Some("ops"))).map(|c| c.role),
        Ok(Role::Admin)
    );
    assert_eq!(
        strict
            .authenticate(None, &tcp(Some("viewer")))
            .map(|c| c.role),
        Ok(Role::Read)
    );
    assert_eq!(
        strict.authenticate(None, &tcp(Some("mallory"))),
        Err(AuthError::UnmappedCertificate("mallory".into()))
    );
    let lenient = AuthPolicy::new(None, true, Some(Role::Read));
    let caller = lenient
        .authenticate(None, &tcp(Some("anyone")))
        .expect("default role");
    assert_eq!(
        caller,
        Caller {
            identity: "cert:anyone".into(),
            role: Role::Read
        }
    );
    // A token, when sent, decides: it is the more specific credential.
    let caller = strict
        .authenticate(Some(b"Bearer read-secret"), &tcp(Some("ops")))
        .expect("token");
    assert_eq!(caller.role, Role::Read);
}

#[test]
fn unix_callers_are_local_admins_and_open_agents_let_everyone_in() {
    let policy = AuthPolicy::new(Some(file()), true, None);
    let caller = policy
        .authenticate(None, &Transport::Unix { uid: Some(0) })
        .expect("unix");
    assert_eq!(
        caller,
        Caller {
            identity: "unix:uid=0".into(),
            role: Role::Admin
        }
    );
    let caller = AuthPolicy::open()
        .authenticate(None, &tcp(None))
        .expect("open");
    assert_eq!(
        caller,
        Caller {
            identity: "anonymous".into(),
            role: Role::Admin
        }
    );
    // A connection the server cannot place is never taken for a local one.
    assert_eq!(
        policy.authenticate(None, &Transport::Unknown),
        Err(AuthError::Missing)
    );
}

#[test]
fn roles_allow_what_the_table_says() {
    assert!(Role::Read.allows(Access::Read));
    assert!(!Role::Read.allows(Access::Admin));
    assert!(Role::Admin.allows(Access::Admin));
    assert_eq!("admin".parse(), Ok(Role::Admin));
    assert!("root".parse::<Role>().is_err());
}

#[test]
fn malformed_token_files_name_the_line() {
    let digest = hex(token_digest("x"));
    let cases = [
        ("ci admin".to_string(), 1),
        (format!("ci admin {digest} extra"), 1),
        (format!("# ok\nci superuser {digest}"), 2),
        ("ci admin 1234".to_string(), 1),
        (format!("ci admin {}", "g".repeat(64)), 1),
        (format!("ci admin {}", "é".repeat(32)), 1),
        (
            format!("ci admin {digest}\nci read {}", hex(token_digest("y"))),
            2,
        ),
        (format!("ci admin {digest}\nbot read {digest}"), 2),
        ("ops admin cert\nops read cert".to_string(), 2),
    ];
    for (text, line) in cases {
        let error = TokenFile::parse(&text).expect_err(&text);
        assert_eq!(error.0, line, "{text:?}: {}", error.1);
    }
    let both = TokenFile::parse(&format!("ops admin cert\nops read {digest}"))
        .expect("a token and a cert may share a name");
    assert!(!both.is_empty());
}
