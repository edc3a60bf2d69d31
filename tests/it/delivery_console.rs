//! The delivery pages through the real app: the board with its creation form,
//! the detail with the step form, and the courier's phone page from the road
//! step to the handover with the code.

use crate::common::form_token;
use crate::deliveries::{complete_guidance, dispensed, setup, AMLODIN};
use crate::delivery_handover::shipped_code;

#[actix_web::test]
async fn staff_board_detail_and_the_couriers_page() {
    let s = setup().await;
    let rx = dispensed(&s, AMLODIN).await;
    complete_guidance(&s, &rx, 0);
    let pid = s.pid.clone();
    let board = s.clerk.get(&format!("/p/{pid}/deliveries")).await;
    assert_eq!(board.status, 200);
    assert!(board.text().contains("配送ボード"));
    let token = form_token(&board.text());
    let mut fields = vec![
        ("csrf_token", token.as_str()),
        ("prescription_ids", rx.as_str()),
        ("method", "courier"),
        ("destination", "東京都新宿区新宿1-2-3"),
        ("recipient_rules", "本人のみ"),
        ("window_start", "2026-12-01T10:00"),
    ];
    let r = s
        .clerk
        .post_form(&format!("/p/{pid}/deliveries"), &fields)
        .await;
    assert_eq!(r.status, 200, "a refusal is shown on the page");
    assert!(r.text().contains("window_end"), "{}", r.text());
    fields.push(("window_end", "2026-12-01T12:00"));
    let r = s
        .clerk
        .post_form(&format!("/p/{pid}/deliveries"), &fields)
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let detail = r.header("location").unwrap();
    let id = detail.rsplit('/').next().unwrap().to_string();
    let page = s.clerk.get(&detail).await;
    assert!(page.text().contains("次の段階") && page.text().contains("配送担当"));
    for step in [
        vec![
            ("state", "sealed"),
            ("place", "薬局"),
            ("seal_number", "S-5"),
        ],
        vec![
            ("state", "handed_to_courier"),
            ("place", "薬局"),
            ("courier_id", s.courier.as_str()),
        ],
    ] {
        let mut f = vec![("csrf_token", token.as_str())];
        f.extend(step);
        let r = s.clerk.post_form(&format!("{detail}/steps"), &f).await;
        assert_eq!(r.status, 303, "{}", r.text());
    }
    let r = s
        .clerk
        .post_form(
            &format!("{detail}/steps"),
            &[
                ("csrf_token", &token),
                ("state", "delivered"),
                ("place", "玄関"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("role=\"alert\""), "the refusal is shown");
    let day = s
        .clerk
        .get(&format!("/p/{pid}/deliveries?day=2026-12-01"))
        .await;
    assert!(day.text().contains("山田") && day.text().contains(&id));

    // The courier's phone page.
    let courier = s.app.signed_in("courier1", None).await;
    let home = courier.get("/").await;
    assert_eq!(home.header("location").as_deref(), Some("/courier"));
    let list = courier.get("/courier").await;
    assert!(list.text().contains("東京都新宿区新宿1-2-3"));
    let stop = format!("/courier/{pid}/{id}");
    let page = courier.get(&stop).await;
    assert_eq!(page.status, 200);
    assert!(
        !page.text().contains("アムロジン"),
        "no contents for couriers"
    );
    let ctoken = form_token(&page.text());
    let r = courier
        .post_form(
            &format!("{stop}/step"),
            &[
                ("csrf_token", &ctoken),
                ("state", "out_for_delivery"),
                ("place", "営業所"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("記録しました") && r.text().contains("signature-pad"));
    let code = shipped_code(&s);
    let r = courier
        .post_form(
            &format!("{stop}/handover"),
            &[
                ("csrf_token", &ctoken),
                ("recipient", "patient"),
                ("code", &code),
                ("place", "玄関"),
                ("signature", "M1,1 L5,5"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("お渡しを記録しました"), "{}", r.text());
    // Someone else's stop is not found.
    let other = s.app.client();
    assert_ne!(other.get(&stop).await.status, 200);
    let js = courier.get("/static/signature.js").await;
    assert_eq!(js.status, 200);
}
