//! Answering like a browser: open `/r/{token}`, read the form's fields from the
//! HTML, and post them back `application/x-www-form-urlencoded`.

use safepulse_domain::keys::LinkToken;

use crate::TestApp;

/// What a test needs from the answer form's HTML.
#[derive(Debug, Clone)]
pub struct AnswerForm {
    pub html: String,
    pub csrf: String,
    pub locale: String,
    pub time_zone: String,
    /// Each item's field name with its options, in page order.
    pub items: Vec<(String, Vec<u8>)>,
}

impl AnswerForm {
    /// Reads the form our templates write (attribute order as written there).
    pub fn parse(html: &str) -> AnswerForm {
        let hidden = |name: &str| -> String {
            let marker = format!("name=\"{name}\" value=\"");
            let start = html
                .find(&marker)
                .unwrap_or_else(|| panic!("the form has a {name} field"))
                + marker.len();
            html[start..]
                .split('"')
                .next()
                .expect("a closing quote")
                .to_owned()
        };
        let mut items: Vec<(String, Vec<u8>)> = Vec::new();
        for input in html.split("<input type=\"radio\" ").skip(1) {
            let name = attribute(input, "name");
            let value: u8 = attribute(input, "value").parse().expect("a numeric option");
            match items.last_mut() {
                Some((last, values)) if *last == name => values.push(value),
                _ => items.push((name, vec![value])),
            }
        }
        AnswerForm {
            csrf: hidden("csrf"),
            locale: hidden("locale"),
            time_zone: hidden("time_zone"),
            items,
            html: html.to_owned(),
        }
    }

    /// The hidden fields plus one answer per item (`choose(index, options)`) and an
    /// optional comment, as the browser would send them.
    pub fn fields(
        &self,
        choose: impl Fn(usize, &[u8]) -> u8,
        comment: Option<&str>,
    ) -> Vec<(String, String)> {
        let mut fields = vec![
            ("csrf".to_owned(), self.csrf.clone()),
            ("locale".to_owned(), self.locale.clone()),
            ("time_zone".to_owned(), self.time_zone.clone()),
        ];
        for (index, (name, options)) in self.items.iter().enumerate() {
            fields.push((name.clone(), choose(index, options).to_string()));
        }
        fields.push(("comment".to_owned(), comment.unwrap_or_default().to_owned()));
        fields
    }
}

fn attribute(tag: &str, name: &str) -> String {
    let marker = format!("{name}=\"");
    let start = tag.find(&marker).expect("the attribute is present") + marker.len();
    tag[start..]
        .split('"')
        .next()
        .expect("a closing quote")
        .to_owned()
}

/// `application/x-www-form-urlencoded`, byte by byte as browsers encode it.
pub fn form_urlencode(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", encode_component(name), encode_component(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode_component(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                encoded.push(byte as char)
            }
            b' ' => encoded.push('+'),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

impl TestApp {
    pub fn answer_path(token: &LinkToken) -> String {
        format!("/r/{}", token.encode())
    }

    /// `GET /r/{token}` as a browser opens it.
    pub async fn open_answer_link(&self, token: &LinkToken) -> reqwest::Response {
        self.client
            .get(self.url(&TestApp::answer_path(token)))
            .send()
            .await
            .expect("the request is sent")
    }

    /// Opens the link and reads the form (it must be there).
    pub async fn answer_form(&self, token: &LinkToken) -> AnswerForm {
        let response = self.open_answer_link(token).await;
        assert_eq!(response.status(), 200, "the answer form opens");
        AnswerForm::parse(&response.text().await.expect("a body"))
    }

    /// Posts a raw form body to `/r/{token}` with the form's content type.
    pub async fn post_answer_body(&self, token: &LinkToken, body: String) -> reqwest::Response {
        self.client
            .post(self.url(&TestApp::answer_path(token)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("the request is sent")
    }

    /// Opens the form and submits it with `choose`'s answers and a comment.
    pub async fn answer(
        &self,
        token: &LinkToken,
        choose: impl Fn(usize, &[u8]) -> u8,
        comment: Option<&str>,
    ) -> reqwest::Response {
        let form = self.answer_form(token).await;
        self.post_answer_body(token, form_urlencode(&form.fields(choose, comment)))
            .await
    }
}
