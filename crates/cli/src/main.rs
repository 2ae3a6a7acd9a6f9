//! `loyalty`: the whole loyalty platform in one binary.

mod jobs;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use loyalty_app::App;
use loyalty_app::history::HistoryKind;
use loyalty_app::tenants::NewTenant;
use loyalty_core::clock::SystemClock;
use loyalty_store::{DEFAULT_DATABASE_URL, DatabaseUrl, Db, DbOptions};

#[derive(Parser)]
#[command(
    name = "loyalty",
    version,
    about = "Customer loyalty for retail and F&B chains: members, points, tiers, vouchers."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Where the data lives: sqlite://FILE (created on first use) or postgres://USER@HOST/DB
    /// [default: sqlite://loyalty.db].
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// Log lines as human-readable text or as JSON objects (one per line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server until Ctrl-C or SIGTERM.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Seconds between the periodic passes this instance enqueues (expiry and pending
        /// points, tier reviews; hourly housekeeping; daily RFM scores); 0 enqueues none here.
        /// Queued work runs as soon as it is due, whatever this says.
        #[arg(long, default_value_t = 60)]
        jobs_every: u64,
        /// A reverse proxy (address or network, e.g. 10.0.0.0/8) whose X-Forwarded-For names
        /// the client for sign-in limits; repeat for several. Without it the peer is the client.
        #[arg(
            long = "trusted-proxy",
            env = "LOYALTY_TRUSTED_PROXIES",
            value_delimiter = ','
        )]
        trusted_proxies: Vec<String>,
        /// Requests per second an API key may make unless it has its own `rate_limit_per_s`.
        #[arg(long, env = "LOYALTY_RATE_LIMIT_PER_KEY", default_value_t = loyalty_app::rate_limit::DEFAULT_RATE_PER_S,
              value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
        rate_limit_per_key: i64,
        /// Let webhook endpoints be on loopback or private addresses (a self-hosted box posting
        /// to its LAN). Off by default: a shared server must not be made to call inside its own
        /// network on a stranger's behalf.
        #[arg(long, env = "LOYALTY_ALLOW_PRIVATE_WEBHOOKS")]
        allow_private_webhooks: bool,
        /// The address customers and platforms reach this server at (https://loyalty.example.vn):
        /// the base of every absolute link it hands out, such as the webhook URL to paste into
        /// Haravan or Shopify. Without it those links are paths.
        #[arg(long, env = "LOYALTY_PUBLIC_URL", value_parser = parse_public_url)]
        public_url: Option<String>,
    },
    /// Recompute every member's points from the ledger and report any mismatch; exits 1 on one.
    Verify,
    /// Measure throughput and latency against the real server, next to the database's own limit.
    Bench {
        /// pos, baseline, expiry, codes, redeem, import or segment (with export).
        scenario: String,
        /// Seconds to run the load (pos, baseline, and the till load after `segment`).
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Concurrent clients (tills).
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Members to create before the run.
        #[arg(long, default_value_t = 10_000)]
        members: usize,
        /// Servers the tills are spread over, each with its own engine and connections, all on
        /// the same PostgreSQL database (pos).
        #[arg(long, default_value_t = 1)]
        instances: usize,
        /// Print one JSON object per scenario result (the last line is the asked scenario).
        #[arg(long)]
        json: bool,
    },
    /// Create a demo tenant: a café chain and a fashion shop with a year of customers and orders.
    Demo {
        /// How many customers to generate.
        #[arg(long, default_value_t = 2_000)]
        members: usize,
        /// The generator's seed: the same seed gives the same data.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Bring the database schema up to date (also done by every other command).
    Migrate,
    /// Import members, past orders or products from a CSV file (the API's formats), with a
    /// progress bar.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Export members or orders as CSV (the imports' columns, so an export imports back).
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Manage tenants (merchant companies).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// The job queue: its state, and probe jobs that prove it.
    Jobs {
        #[command(subcommand)]
        command: jobs::JobsCommand,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import members: bad rows are reported by row number and skipped, good rows kept.
    Members {
        /// UTF-8 CSV with a header row (Excel: "CSV UTF-8 (Comma delimited)").
        file: std::path::PathBuf,
        #[arg(long)]
        tenant: String,
    },
    /// Import past orders, one row per line (order_id,placed_at,phone,email,store,brand,
    /// channel,sku,name,category,quantity,unit_price,discount,shipping,total): history for
    /// reports and segments; with --earn they earn points as if posted then.
    Orders {
        file: std::path::PathBuf,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        earn: bool,
    },
    /// Import the product catalogue (sku,name,category,brand,price).
    Products {
        file: std::path::PathBuf,
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Export every member, or one saved segment's members.
    Members {
        #[arg(long)]
        tenant: String,
        /// A saved segment's id.
        #[arg(long)]
        segment: Option<String>,
        /// Where to write; standard output when absent.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Export every order but the cancelled ones, one row per line, in the orders import's
    /// columns.
    Orders {
        #[arg(long)]
        tenant: String,
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant with its owner account; prints {"tenant_id", "api_key"} (an admin key).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
        /// The owner's password. Prefer the environment variable or --owner-password-stdin:
        /// a command line is visible to every user of the machine (`ps`) and kept in shell
        /// history.
        #[arg(long, env = "LOYALTY_OWNER_PASSWORD", hide_env_values = true)]
        owner_password: Option<String>,
        /// Read the owner's password from the first line of standard input.
        #[arg(long, conflicts_with = "owner_password")]
        owner_password_stdin: bool,
        /// IANA time zone for days, birthdays and reports.
        #[arg(long, default_value = loyalty_core::tenancy::DEFAULT_TIMEZONE)]
        timezone: String,
    },
    /// List tenants as JSON lines.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A benchmark logs only problems: a line per request would be measured too.
    let default_level = if matches!(cli.command, Command::Bench { .. }) {
        "warn"
    } else {
        "info"
    };
    init_logging(cli.global.log_format, default_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

fn open(url: &str) -> anyhow::Result<Db> {
    let url = DatabaseUrl::parse(url)?;
    Db::open(&url, &DbOptions::for_backend(url.backend()))
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Bench {
        scenario,
        duration,
        connections,
        members,
        instances,
        json,
    } = &cli.command
    {
        // A benchmark works on a fresh database of its own, never on the named one's data.
        let options = loyalty_bench::BenchOptions {
            database_url: cli.global.database_url.clone(),
            duration_s: *duration,
            connections: *connections,
            members: *members,
            instances: *instances,
        };
        return bench(scenario, &options, *json).await;
    }
    let url = cli
        .global
        .database_url
        .as_deref()
        .unwrap_or(DEFAULT_DATABASE_URL);
    let db = open(url)?;
    let app = App::new(db.clone(), Arc::new(SystemClock));
    let result = match cli.command {
        Command::Serve {
            listen,
            jobs_every,
            trusted_proxies,
            rate_limit_per_key,
            allow_private_webhooks,
            public_url,
        } => {
            let options = loyalty_server::ServerOptions {
                trusted_proxies: parse_networks(&trusted_proxies)?,
            };
            let app = app
                .with_rate_limit_per_key(rate_limit_per_key)
                .with_secret_key(secret_key(url)?)
                .with_private_webhooks(allow_private_webhooks)
                .with_public_url(public_url);
            app.check_secret_key().await?;
            serve(app, listen, jobs_every, options).await
        }
        Command::Verify => verify(app).await,
        Command::Demo { members, seed } => demo(app, members, seed).await,
        Command::Bench { .. } => unreachable!("handled above"),
        Command::Migrate => {
            tracing::info!(database = db.backend().name(), "schema is up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant { command } => tenant(app, command).await,
        Command::Jobs { command } => jobs::jobs(app, command).await,
        Command::Import {
            command: ImportCommand::Members { file, tenant },
        } => import_file(app, &file, &tenant, None).await,
        Command::Import {
            command: ImportCommand::Orders { file, tenant, earn },
        } => import_file(app, &file, &tenant, Some(HistoryKind::Orders { earn })).await,
        Command::Import {
            command: ImportCommand::Products { file, tenant },
        } => import_file(app, &file, &tenant, Some(HistoryKind::Products)).await,
        Command::Export {
            command:
                ExportCommand::Members {
                    tenant,
                    segment,
                    output,
                },
        } => export(app, &tenant, Some(segment), output.as_deref()).await,
        Command::Export {
            command: ExportCommand::Orders { tenant, output },
        } => export(app, &tenant, None, output.as_deref()).await,
    };
    db.close();
    result
}

/// The key secrets are sealed with: `LOYALTY_SECRET_KEY`, else (SQLite) the key file beside
/// the database, created at first start.
fn secret_key(url: &str) -> anyhow::Result<Option<loyalty_app::secrets::SecretKey>> {
    let from_env = std::env::var("LOYALTY_SECRET_KEY").ok();
    let key_file = DatabaseUrl::parse(url)?.sqlite_path().map(|db| {
        let mut name = db.into_os_string();
        name.push(".key");
        std::path::PathBuf::from(name)
    });
    Ok(loyalty_app::secrets::SecretKey::load(
        from_env.as_deref(),
        key_file.as_deref(),
    )?)
}

/// An absolute http(s) URL without a query: links are made by appending paths to it.
fn parse_public_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|e| format!("{text}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.query().is_some() || url.host().is_none() {
        return Err(format!(
            "{text}: give an http or https address without a query, such as https://loyalty.example.vn"
        ));
    }
    Ok(text.trim_end_matches('/').to_string())
}

/// `10.0.0.0/8`, `192.168.1.10` (one address), `::1`.
fn parse_networks(given: &[String]) -> anyhow::Result<Vec<ipnet::IpNet>> {
    given
        .iter()
        .map(|text| {
            let text = text.trim();
            text.parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .with_context(|| format!("--trusted-proxy {text} is not an address or a network"))
        })
        .collect()
}

async fn serve(
    app: App,
    listen: SocketAddr,
    jobs_every: u64,
    options: loyalty_server::ServerOptions,
) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, database = app.db().backend().name(), "serving; Ctrl-C to stop");
    app.listen_for_changes();
    let queue = app.start_queue();
    let pacing = (jobs_every > 0).then(|| {
        tokio::spawn(pace_periodic_jobs(
            app.clone(),
            Duration::from_secs(jobs_every),
        ))
    });
    loyalty_server::serve_with(listener, app, options, shutdown_signal()).await?;
    if let Some(pacing) = pacing {
        pacing.abort();
    }
    queue.stop().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Enqueues the periodic passes every `every`; the queue runs them (once, whichever instance
/// gets there first).
async fn pace_periodic_jobs(app: App, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = app.enqueue_periodic(every).await {
            tracing::warn!(%error, "enqueuing the periodic jobs failed; trying at the next tick");
        }
    }
}

async fn bench(
    scenario: &str,
    options: &loyalty_bench::BenchOptions,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let reports = loyalty_bench::scenarios::run(scenario, options).await?;
    for r in &reports {
        if json {
            println!("{}", serde_json::to_string(r)?);
        } else {
            let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
            println!(
                "{:<9} {:<9} {:>6} ops in {:>6.2} s = {:>9.1}/s  p50 {} ms  p95 {} ms  p99 {} ms  errors {}{}{}\n          ({})",
                r.scenario,
                r.database,
                r.ops,
                r.duration_s,
                r.ops_per_s,
                ms(r.p50_ms),
                ms(r.p95_ms),
                ms(r.p99_ms),
                r.errors,
                r.ratio_to_baseline
                    .map_or(String::new(), |x| format!("  ratio to baseline {x:.2}")),
                r.rss_mb
                    .map_or(String::new(), |m| format!("  rss {m:.0} MB")),
                r.settings,
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn demo(app: App, members: usize, seed: u64) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>8} [{bar:40}] {pos}/{len} ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let options = loyalty_demo::seed::DemoOptions {
        members,
        seed,
        ..Default::default()
    };
    let demo = loyalty_demo::seed::create_demo(&app, &options, |stage, done, total| {
        bar.set_message(stage.to_string());
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .await?;
    bar.finish_and_clear();
    println!(
        "Demo tenant ready: {} members, {} orders of the last year, in {:.1} s.\n\
         \n  tenant:    {}\n  API key:   {}  (admin)\n  owner:     {} / {}\n\
         \nStart the server:  loyalty serve\n\
         Admin UI:          http://127.0.0.1:8080/  (sign in as the owner above)\n\
         Then try:          curl -H 'Authorization: Bearer {}' 'http://127.0.0.1:8080/api/v1/members?limit=5'",
        demo.members,
        demo.orders,
        started.elapsed().as_secs_f64(),
        demo.tenant_id,
        demo.api_key,
        demo.owner_email,
        demo.owner_password,
        demo.api_key,
    );
    Ok(ExitCode::SUCCESS)
}

/// Imports members (`history` None), past orders or products from a file, with a progress bar.
async fn import_file(
    app: App,
    file: &std::path::Path,
    tenant_id: &str,
    history: Option<HistoryKind>,
) -> anyhow::Result<ExitCode> {
    let ctx = loyalty_app::Ctx::cli(tenant_id);
    app.tenant(&ctx).await?;
    let opened =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let size = opened.metadata().map(|m| m.len()).unwrap_or(0);
    let started = std::time::Instant::now();
    // The bar follows the bytes read, the only total known before the end.
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "[{bar:40}] {bytes}/{total_bytes} {msg} ({elapsed})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let reader = bar.wrap_read(opened);
    let show = |job: &loyalty_store::repo::imports::ImportJob| {
        bar.set_message(format!("{} imported, {} refused", job.imported, job.failed));
    };
    let job = match history {
        None => {
            let prepared = app.prepare_member_import(&ctx, Box::new(reader)).await?;
            app.run_member_import(&ctx, prepared, show).await?
        }
        Some(kind) => {
            let prepared = app
                .prepare_history_import(&ctx, kind, Box::new(reader))
                .await?;
            app.run_history_import(&ctx, prepared, show).await?
        }
    };
    bar.finish_and_clear();
    for e in job.errors.iter().take(20) {
        eprintln!("row {}: {}: {}", e.row, e.field, e.message);
    }
    if job.errors.len() > 20 {
        eprintln!(
            "… {} more problems; all are in GET /api/v1/imports/{}",
            job.errors.len() - 20,
            job.id
        );
    }
    println!(
        "import {}: {} rows, {} imported, {} refused, in {:.1} s",
        job.id,
        job.total,
        job.imported,
        job.failed,
        started.elapsed().as_secs_f64()
    );
    if let Some(message) = &job.message {
        eprintln!("error: {message}");
    }
    Ok(if job.status == "done" {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Exports members (`members`: `Some(segment)`, all of them with `Some(None)`) or orders
/// (`None`) to a file or standard output.
async fn export(
    app: App,
    tenant_id: &str,
    members: Option<Option<String>>,
    output: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let ctx = loyalty_app::Ctx::cli(tenant_id);
    let mut out: Box<dyn std::io::Write + Send> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let (rows, what) = match members {
        Some(segment) => (
            app.write_member_export(&ctx, segment, &mut out).await?,
            "members",
        ),
        None => (app.write_order_export(&ctx, &mut out).await?, "order lines"),
    };
    if let Some(path) = output {
        eprintln!("{rows} {what} written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

async fn verify(app: App) -> anyhow::Result<ExitCode> {
    let report = app.verify().await?;
    for problem in &report.problems {
        println!("MISMATCH {problem}");
    }
    println!(
        "checked {} members: {}",
        report.members_checked,
        if report.problems.is_empty() {
            "every balance equals its ledger".to_string()
        } else {
            format!("{} problems", report.problems.len())
        }
    );
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Resolves on Ctrl-C or SIGTERM; requests in flight then finish before the process exits.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn tenant(app: App, command: TenantCommand) -> anyhow::Result<ExitCode> {
    match command {
        TenantCommand::Create {
            name,
            owner_email,
            owner_password,
            owner_password_stdin,
            timezone,
        } => {
            let owner_password = match (owner_password, owner_password_stdin) {
                (_, true) => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("reading the owner's password from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
                (Some(password), false) => password,
                (None, false) => {
                    eprintln!(
                        "error: give the owner's password in LOYALTY_OWNER_PASSWORD, on standard input with --owner-password-stdin, or with --owner-password"
                    );
                    return Ok(ExitCode::from(2));
                }
            };
            let input = NewTenant {
                name,
                owner_email,
                owner_password,
                timezone: Some(timezone),
            };
            match app.create_tenant(input).await {
                Ok(created) => {
                    let out = serde_json::json!({"tenant_id": created.tenant.id, "api_key": created.api_key});
                    println!("{out}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(loyalty_app::AppError::Invalid(invalid)) => {
                    for e in invalid.0 {
                        eprintln!("error: --{}: {}", e.field.replace('_', "-"), e.message);
                    }
                    Ok(ExitCode::from(2))
                }
                Err(other) => Err(other.into()),
            }
        }
        TenantCommand::List => {
            for t in app.tenants().await? {
                let out = serde_json::json!({"tenant_id": t.id, "name": t.name, "timezone": t.timezone, "created_at": t.created_at});
                println!("{out}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
