//! A small but real SMTP server for tests: listens on `127.0.0.1:0`, speaks enough
//! ESMTP for lettre (EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA with dot-unstuffing,
//! RSET, NOOP, QUIT), serves any number of concurrent connections, and records
//! every message it accepts.
//!
//! A [`Script`] decides, once per mail transaction (at its first RCPT), how the
//! sink answers: [`Reply::Accept`] (250 after DATA), [`Reply::AcceptSlowly`] (the
//! same, each reply of the transaction held back like a slow relay's),
//! [`Reply::TempFail`] (421 —
//! which also closes the connection — or 451 after DATA), [`Reply::PermFail`]
//! (550 at RCPT) or [`Reply::DropDuringData`] (the socket is closed after the
//! message's header block arrived, before any reply).
//!
//! Depends on nothing but tokio and std, so any test crate can include it with
//! `#[path = "…/tests/support/smtp_sink.rs"] mod smtp_sink;`.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// Larger messages are refused (552): protects the test process from runaway clients.
const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

/// How the sink answers one mail transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// 250 after DATA; the message is recorded.
    Accept,
    /// Like `Accept`, but the replies to RCPT, DATA and the end of the message
    /// each come `per_reply` late: a slow relay, slow in every command. The message
    /// is recorded when its 250 is sent, even if the client has given up by then
    /// (as a real server would have accepted it).
    AcceptSlowly { per_reply: Duration },
    /// A 4xx reply after DATA. 421 means "closing the channel": the sink closes the
    /// connection after sending it, as real servers do. Other codes keep it open.
    TempFail { code: u16 },
    /// 550 at RCPT: the mailbox does not exist.
    PermFail,
    /// Close the socket in the middle of DATA, without any reply.
    DropDuringData,
}

/// What the script knows when it decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// Counts mail transactions over all connections, from 0.
    pub number: usize,
    pub mail_from: String,
    /// The first recipient (safepulse sends one recipient per message).
    pub recipient: String,
    /// How many transactions for this recipient the sink has seen before.
    pub earlier_attempts_for_recipient: usize,
}

/// Decides the [`Reply`] for each transaction.
#[derive(Clone)]
pub struct Script(Arc<dyn Fn(&Transaction) -> Reply + Send + Sync>);

impl Script {
    pub fn accept_all() -> Script {
        Script::from_fn(|_| Reply::Accept)
    }

    /// Transaction `i` gets `replies[i]`; every later transaction is accepted.
    pub fn replies_in_order(replies: Vec<Reply>) -> Script {
        Script::from_fn(move |transaction| {
            replies
                .get(transaction.number)
                .copied()
                .unwrap_or(Reply::Accept)
        })
    }

    pub fn from_fn(decide: impl Fn(&Transaction) -> Reply + Send + Sync + 'static) -> Script {
        Script(Arc::new(decide))
    }
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Script(..)")
    }
}

/// A message the sink accepted (250 after DATA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub mail_from: String,
    pub recipients: Vec<String>,
    /// The message as sent, dot-unstuffed, CRLF line ends, without the final `.` line.
    pub data: Vec<u8>,
}

impl ReceivedMessage {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The first header of that name (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        first_header(&self.data, name)
    }

    pub fn message_id(&self) -> Option<String> {
        self.header("Message-ID")
    }
}

/// Every transaction the sink saw, whatever it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub transaction: Transaction,
    pub reply: Reply,
    /// The header block of what arrived (empty for PermFail). Only the headers, so
    /// a benchmark's many attempts do not keep every body twice.
    pub header_block: Vec<u8>,
}

impl AttemptRecord {
    pub fn message_id(&self) -> Option<String> {
        first_header(&self.header_block, "Message-ID")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitTimedOut {
    pub wanted: usize,
    pub received: usize,
    pub waited: Duration,
}

impl fmt::Display for WaitTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "waited {:?} for {} messages, the SMTP sink received {}",
            self.waited, self.wanted, self.received
        )
    }
}

impl std::error::Error for WaitTimedOut {}

struct SinkState {
    script: Script,
    next_transaction_number: AtomicUsize,
    attempts_by_recipient: Mutex<HashMap<String, usize>>,
    messages: Mutex<Vec<ReceivedMessage>>,
    attempts: Mutex<Vec<AttemptRecord>>,
    message_accepted: Notify,
}

/// Recover the data even if a test thread panicked while holding a lock.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The running server. Dropping it stops accepting and closes every connection.
#[derive(Debug)]
pub struct SmtpSink {
    port: u16,
    state: Arc<SinkState>,
    accept_task: JoinHandle<()>,
}

impl fmt::Debug for SinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkState")
            .field("messages", &lock(&self.messages).len())
            .finish_non_exhaustive()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every connection.
        self.accept_task.abort();
    }
}

impl SmtpSink {
    /// Binds `127.0.0.1:0` and starts serving. Panics if no port can be bound.
    pub async fn start(script: Script) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink to a local port");
        let port = listener
            .local_addr()
            .expect("a bound listener has an address")
            .port();
        let state = Arc::new(SinkState {
            script,
            next_transaction_number: AtomicUsize::new(0),
            attempts_by_recipient: Mutex::new(HashMap::new()),
            messages: Mutex::new(Vec::new()),
            attempts: Mutex::new(Vec::new()),
            message_accepted: Notify::new(),
        });
        let accept_task = tokio::spawn(accept_connections(listener, Arc::clone(&state)));
        SmtpSink {
            port,
            state,
            accept_task,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every accepted message so far, in the order they were accepted.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        lock(&self.state.messages).clone()
    }

    /// Every transaction so far (accepted, failed or dropped), in order.
    pub fn attempts(&self) -> Vec<AttemptRecord> {
        lock(&self.state.attempts).clone()
    }

    /// Waits until at least `count` messages were accepted; all of them on success.
    pub async fn wait_for(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMessage>, WaitTimedOut> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Register interest before looking, so an acceptance in between is not missed.
            let accepted = self.state.message_accepted.notified();
            tokio::pin!(accepted);
            accepted.as_mut().enable();
            let messages = self.messages();
            if messages.len() >= count {
                return Ok(messages);
            }
            if tokio::time::timeout_at(deadline, accepted).await.is_err() {
                return Err(WaitTimedOut {
                    wanted: count,
                    received: self.messages().len(),
                    waited: timeout,
                });
            }
        }
    }
}

async fn accept_connections(listener: TcpListener, state: Arc<SinkState>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, Arc::clone(&state)));
                }
                // E.g. too many open files: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_finished) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The mail transaction in progress on one connection.
struct OpenTransaction {
    mail_from: String,
    recipients: Vec<String>,
    decision: Option<(Transaction, Reply)>,
}

async fn serve_connection(stream: TcpStream, state: Arc<SinkState>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    writer.write_all(b"220 smtp-sink ESMTP ready\r\n").await?;
    let mut greeted = false;
    let mut open: Option<OpenTransaction> = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let command_line = String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        let (verb, argument) = match command_line.split_once(' ') {
            Some((verb, argument)) => (verb.to_ascii_uppercase(), argument.trim().to_owned()),
            None => (command_line.to_ascii_uppercase(), String::new()),
        };
        match verb.as_str() {
            "EHLO" => {
                greeted = true;
                open = None;
                writer
                    .write_all(b"250-smtp-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-AUTH PLAIN\r\n250 SIZE 33554432\r\n")
                    .await?;
            }
            "HELO" => {
                greeted = true;
                open = None;
                writer.write_all(b"250 smtp-sink\r\n").await?;
            }
            "AUTH" => {
                // Any credentials are fine: the sink checks that clients can log in, not who.
                if argument.eq_ignore_ascii_case("PLAIN") {
                    writer.write_all(b"334 \r\n").await?;
                    line.clear();
                    reader.read_until(b'\n', &mut line).await?;
                }
                writer
                    .write_all(b"235 2.7.0 Authentication successful\r\n")
                    .await?;
            }
            "MAIL" if !greeted => writer.write_all(b"503 5.5.1 Say EHLO first\r\n").await?,
            "MAIL" => match address_after(&argument, "FROM:") {
                Some(mail_from) => {
                    open = Some(OpenTransaction {
                        mail_from,
                        recipients: Vec::new(),
                        decision: None,
                    });
                    writer.write_all(b"250 2.1.0 OK\r\n").await?;
                }
                None => {
                    writer
                        .write_all(b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n")
                        .await?
                }
            },
            "RCPT" => {
                let (Some(transaction), Some(recipient)) =
                    (open.as_mut(), address_after(&argument, "TO:"))
                else {
                    writer
                        .write_all(
                            b"503 5.5.1 MAIL FROM:<address> first, then RCPT TO:<address>\r\n",
                        )
                        .await?;
                    continue;
                };
                let reply = match &transaction.decision {
                    Some((_, reply)) => *reply,
                    None => {
                        let (decided, reply) = decide(&state, &transaction.mail_from, &recipient);
                        if reply == Reply::PermFail {
                            record_attempt(&state, decided.clone(), reply, &[]);
                        }
                        transaction.decision = Some((decided, reply));
                        reply
                    }
                };
                if let Reply::AcceptSlowly { per_reply } = reply {
                    tokio::time::sleep(per_reply).await;
                }
                if reply == Reply::PermFail {
                    let refusal = format!("550 5.1.1 <{recipient}>: mailbox unavailable\r\n");
                    writer.write_all(refusal.as_bytes()).await?;
                } else {
                    transaction.recipients.push(recipient);
                    writer.write_all(b"250 2.1.5 OK\r\n").await?;
                }
            }
            "DATA" => {
                let Some(transaction) = open
                    .take()
                    .filter(|transaction| !transaction.recipients.is_empty())
                else {
                    writer
                        .write_all(b"503 5.5.1 RCPT TO:<address> first\r\n")
                        .await?;
                    continue;
                };
                if let Some((_, Reply::AcceptSlowly { per_reply })) = &transaction.decision {
                    tokio::time::sleep(*per_reply).await;
                }
                writer
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let keep_connection =
                    receive_data(&mut reader, &mut writer, &state, transaction).await?;
                if !keep_connection {
                    return Ok(());
                }
            }
            "RSET" => {
                open = None;
                writer.write_all(b"250 2.0.0 OK\r\n").await?;
            }
            "NOOP" => writer.write_all(b"250 2.0.0 OK\r\n").await?,
            "QUIT" => {
                writer.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => {
                writer
                    .write_all(b"500 5.5.2 Command not recognised\r\n")
                    .await?
            }
        }
    }
}

fn decide(state: &SinkState, mail_from: &str, recipient: &str) -> (Transaction, Reply) {
    let earlier_attempts_for_recipient = {
        let mut counts = lock(&state.attempts_by_recipient);
        let count = counts.entry(recipient.to_owned()).or_insert(0);
        *count += 1;
        *count - 1
    };
    let transaction = Transaction {
        number: state.next_transaction_number.fetch_add(1, Ordering::SeqCst),
        mail_from: mail_from.to_owned(),
        recipient: recipient.to_owned(),
        earlier_attempts_for_recipient,
    };
    let reply = (state.script.0)(&transaction);
    (transaction, reply)
}

/// Reads the message after 354 and answers as scripted. `Ok(false)`: close the connection.
async fn receive_data(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: &mut OwnedWriteHalf,
    state: &SinkState,
    transaction: OpenTransaction,
) -> std::io::Result<bool> {
    let (decided, reply) = transaction
        .decision
        .expect("a transaction with recipients has a decision");
    let mut data = Vec::new();
    let mut line = Vec::new();
    let mut too_large = false;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            // The client went away mid-message: nothing to answer.
            record_attempt(state, decided, reply, &data);
            return Ok(false);
        }
        if line == b".\r\n" || line == b".\n" {
            break;
        }
        if reply == Reply::DropDuringData && (line == b"\r\n" || line == b"\n") {
            // The header block is complete: enough for tests to see the Message-ID.
            record_attempt(state, decided, reply, &data);
            return Ok(false);
        }
        // RFC 5321 §4.5.2: a leading dot was added by the client; remove it.
        let content = line.strip_prefix(b".").unwrap_or(&line);
        if data.len() + content.len() > MAX_MESSAGE_BYTES {
            too_large = true;
        } else {
            data.extend_from_slice(content);
        }
    }
    if too_large {
        writer.write_all(b"552 5.3.4 Message too big\r\n").await?;
        return Ok(true);
    }
    match reply {
        Reply::Accept | Reply::AcceptSlowly { .. } => {
            if let Reply::AcceptSlowly { per_reply } = reply {
                tokio::time::sleep(per_reply).await;
            }
            let number = decided.number;
            record_attempt(state, decided, reply, &data);
            lock(&state.messages).push(ReceivedMessage {
                mail_from: transaction.mail_from,
                recipients: transaction.recipients,
                data,
            });
            state.message_accepted.notify_waiters();
            writer
                .write_all(format!("250 2.0.0 OK: queued as {number}\r\n").as_bytes())
                .await?;
            Ok(true)
        }
        Reply::TempFail { code } => {
            record_attempt(state, decided, reply, &data);
            writer
                .write_all(
                    format!("{code} 4.3.0 Temporary failure, try again later\r\n").as_bytes(),
                )
                .await?;
            Ok(code != 421)
        }
        // A dropped message without a blank line after its headers ends here. (PermFail
        // never gets here: it refuses every RCPT, and DATA needs a recipient.)
        Reply::PermFail | Reply::DropDuringData => {
            record_attempt(state, decided, reply, &data);
            Ok(false)
        }
    }
}

fn record_attempt(state: &SinkState, transaction: Transaction, reply: Reply, data: &[u8]) {
    let header_end = data
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or(data.len());
    lock(&state.attempts).push(AttemptRecord {
        transaction,
        reply,
        header_block: data[..header_end].to_vec(),
    });
}

/// `FROM:<a@b> BODY=8BITMIME` → `a@b`. The null sender `<>` is an empty string.
fn address_after(argument: &str, keyword: &str) -> Option<String> {
    let prefix = argument.get(..keyword.len())?;
    if !prefix.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = argument[keyword.len()..].trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}

fn first_header(data: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let header_block = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut found: Option<String> = None;
    for line in header_block.split("\r\n") {
        if let Some(value) = found.as_mut() {
            if line.starts_with([' ', '\t']) {
                value.push(' ');
                value.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((header_name, value)) = line.split_once(':')
            && header_name.eq_ignore_ascii_case(name)
        {
            found = Some(value.trim().to_owned());
        }
    }
    found
}
