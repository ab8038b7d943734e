//! `multipart/form-data` for the console's one file upload (the people CSV), read
//! by hand: the browser sends a few small fields and one file, and a parser crate
//! would be more code to trust than these lines. Every field must be UTF-8 text
//! (the import takes UTF-8 only) and no field may repeat.

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;

use crate::import::MAX_IMPORT_BYTES;

/// Room for the form's other fields and the part headers around the file.
const MAX_MULTIPART_BYTES: usize = MAX_IMPORT_BYTES + 64 * 1024;

pub fn is_multipart(request: &HttpRequest) -> bool {
    boundary(request).is_some()
}

fn boundary(request: &HttpRequest) -> Option<String> {
    let value = request.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mut parts = value.split(';');
    if !parts
        .next()?
        .trim()
        .eq_ignore_ascii_case("multipart/form-data")
    {
        return None;
    }
    parts.find_map(|part| {
        let (name, value) = part.trim().split_once('=')?;
        name.eq_ignore_ascii_case("boundary")
            .then(|| value.trim_matches('"').to_owned())
            .filter(|boundary| !boundary.is_empty() && boundary.len() <= 70)
    })
}

/// The fields of the body, or `None` when it is not a well-formed form of text
/// fields within the size limit.
pub async fn read_fields(
    request: &HttpRequest,
    mut payload: web::Payload,
) -> Option<Vec<(String, String)>> {
    let boundary = boundary(request)?;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.ok()?;
        if body.len() + chunk.len() > MAX_MULTIPART_BYTES {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    parse(&body, &boundary)
}

fn parse(body: &[u8], boundary: &str) -> Option<Vec<(String, String)>> {
    let delimiter = format!("--{boundary}");
    let separator = format!("\r\n--{boundary}");
    let mut rest = body.strip_prefix(delimiter.as_bytes())?;
    let mut fields: Vec<(String, String)> = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(fields);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let headers_end = find(rest, b"\r\n\r\n")?;
        let headers = std::str::from_utf8(&rest[..headers_end]).ok()?;
        let content = &rest[headers_end + 4..];
        let content_end = find(content, separator.as_bytes())?;
        let name = field_name(headers)?;
        if fields.iter().any(|(seen, _)| *seen == name) {
            return None;
        }
        let value = String::from_utf8(content[..content_end].to_vec()).ok()?;
        fields.push((name, value));
        rest = &content[content_end + separator.len()..];
    }
}

/// `name` of a part's `Content-Disposition: form-data; name="…"`.
fn field_name(headers: &str) -> Option<String> {
    let disposition = headers.split("\r\n").find(|line| {
        line.to_ascii_lowercase()
            .starts_with("content-disposition:")
    })?;
    disposition.split(';').find_map(|part| {
        let (key, value) = part.trim().split_once('=')?;
        (key == "name").then(|| value.trim_matches('"').to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_upload_reads_into_its_fields() {
        let body = "------b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n\
                    ------b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.csv\"\r\n\
                    Content-Type: text/csv\r\n\r\nemail,name\r\na@b.c,A\r\n\r\n------b--\r\n";
        let fields = parse(body.as_bytes(), "----b").unwrap();
        assert_eq!(
            fields,
            vec![
                ("csrf".to_owned(), "abc".to_owned()),
                ("file".to_owned(), "email,name\r\na@b.c,A\r\n".to_owned())
            ]
        );
    }

    #[test]
    fn repeated_fields_invalid_text_and_truncated_bodies_are_refused() {
        let twice = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n\
                     --b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n2\r\n--b--";
        assert!(parse(twice.as_bytes(), "b").is_none());
        let mut latin1 = b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n".to_vec();
        latin1.extend_from_slice(b"M\xfcller\r\n--b--");
        assert!(parse(&latin1, "b").is_none());
        let truncated = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end";
        assert!(parse(truncated.as_bytes(), "b").is_none());
    }
}
