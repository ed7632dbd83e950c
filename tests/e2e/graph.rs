//! `nsfleet graph` on the README's `<!-- topology-example -->` file applied to two simulated hosts:
//! the SVG the hosts' state draws is docs/tutorial.svg byte for byte, parses as XML, and names every
//! namespace, bridge and veth that `ip` finds on the hosts; the file's own picture (`--declared`)
//! is the same picture.
//!
//! After a deliberate change to the drawing, `NSFLEET_BLESS=1 cargo test -p nsfleet-tests --test graph`
//! rewrites docs/tutorial.svg from the lab; look at the result before committing it.

use std::path::{Path, PathBuf};

use nsfleet_tests::{crash::run_netns, json::ip_kind, Lab, Nsfleet, SimHost};

fn repository_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// The README's `<!-- topology-example -->` block, exactly as written.
fn readme_topology() -> String {
    let readme = std::fs::read_to_string(repository_file("README.md")).expect("README.md");
    readme
        .split_once("<!-- topology-example -->\n```yaml\n")
        .expect("the README has the topology example")
        .1
        .split_once("\n```")
        .expect("the example's block ends")
        .0
        .to_string()
}

/// `nsfleet VERB FILE --endpoint host1=... --endpoint host2=... EXTRA`, in text mode.
fn on_fleet(verb: &str, file: &Path, hosts: &[&SimHost], extra: &[&str]) -> nsfleet_tests::CliRun {
    let mut words = vec![verb.to_string(), file.display().to_string()];
    for host in hosts {
        words.push("--endpoint".into());
        words.push(format!("{}={}", host.label(), host.endpoint()));
    }
    words.extend(extra.iter().map(|word| word.to_string()));
    Nsfleet::new().text().args(words).run()
}

fn titles(svg: &str) -> Vec<String> {
    let document = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    assert_eq!(
        document.root_element().tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    document
        .descendants()
        .filter(|node| node.has_tag_name("title"))
        .filter_map(|node| node.text().map(str::to_owned))
        .collect()
}

/// What `ip` finds on `host`: every named namespace and every bridge and veth (and VXLAN link) in it
/// and in the host namespace, as the titles the picture must carry; and each veth that lives in a
/// named namespace, whose pair must be drawn as an edge.
fn expected_titles(host: &SimHost) -> (Vec<String>, Vec<String>) {
    let label = host.label();
    let mut objects = Vec::new();
    let mut pairs = Vec::new();
    let namespaces = run_netns(host);
    assert!(
        !namespaces.is_empty(),
        "{label}: the topology made no namespace"
    );
    for namespace in std::iter::once(String::new()).chain(namespaces) {
        if !namespace.is_empty() {
            objects.push(format!("namespace {label}/{namespace}"));
        }
        let place = if namespace.is_empty() {
            label.to_string()
        } else {
            format!("{label}/{namespace}")
        };
        for link in host.ip_links(&namespace) {
            let kind = ip_kind(&link).to_string();
            let name = link["ifname"].as_str().expect("ip: ifname").to_string();
            if matches!(kind.as_str(), "bridge" | "veth" | "vxlan") {
                objects.push(format!("{kind} {place}:{name}"));
            }
            if kind == "veth" && !namespace.is_empty() {
                pairs.push(format!("{place}:{name}"));
            }
        }
    }
    (objects, pairs)
}

#[test]
fn the_tutorial_svg_is_what_the_hosts_hold_and_names_every_object() {
    let lab = Lab::start(2);
    let hosts = lab.hosts();
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("tutorial.yaml");
    std::fs::write(&file, readme_topology()).expect("write the topology file");
    let apply = on_fleet("apply", &file, &hosts, &["--yes"]);
    assert_eq!(apply.exit_code(), Some(0), "apply failed\n{apply}");

    let live = on_fleet("graph", &file, &hosts, &["--format", "svg"]);
    assert_eq!(live.exit_code(), Some(0), "{live}");
    let svg = live.stdout();
    let golden = repository_file("docs/tutorial.svg");
    if std::env::var_os("NSFLEET_BLESS").is_some() {
        std::fs::write(&golden, svg).expect("write docs/tutorial.svg");
    }
    let committed = std::fs::read_to_string(&golden).expect("docs/tutorial.svg");
    assert!(
        committed == svg,
        "docs/tutorial.svg is not what the lab draws; NSFLEET_BLESS=1 rewrites it\n--- drawn:\n{svg}"
    );

    let titles = titles(svg);
    let mut pairs_seen = 0;
    for host in &hosts {
        let (objects, pairs) = expected_titles(host);
        for object in objects {
            assert!(
                titles.contains(&object),
                "the SVG has no <title>{object}</title>: {titles:?}"
            );
        }
        for end in pairs {
            assert!(
                titles.iter().any(|title| title.starts_with("veth ")
                    && title.contains(" -- ")
                    && title.contains(&end)),
                "no veth edge ends at {end}: {titles:?}"
            );
            pairs_seen += 1;
        }
    }
    assert_eq!(pairs_seen, 6, "three veth pairs per host");
    for text in [lab.host(0).endpoint(), lab.host(1).endpoint()] {
        assert!(!svg.contains(&text), "the picture names a socket: {text}");
    }

    // The file's picture is the hosts' picture: apply made exactly what it declares.
    let declared = Nsfleet::new()
        .text()
        .args([
            "graph",
            &file.display().to_string(),
            "--declared",
            "--format",
            "svg",
        ])
        .run();
    assert_eq!(declared.exit_code(), Some(0), "{declared}");
    assert!(
        declared.stdout() == svg,
        "--declared draws another picture\n{declared}"
    );

    // DOT and Mermaid of the same state name the same objects by the same ids.
    for format in ["dot", "mermaid"] {
        let run = on_fleet("graph", &file, &hosts, &["--format", format]);
        assert_eq!(run.exit_code(), Some(0), "{run}");
        for id in [
            "ns__host1__netns1",
            "link__host2____br0",
            "link__host1__upstream__up1",
        ] {
            assert!(run.stdout().contains(id), "{format} lacks {id}\n{run}");
        }
    }
}
