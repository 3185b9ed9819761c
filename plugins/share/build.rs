#[path = "../../link-order/apply.rs"]
mod link_order;

fn main() {
    link_order::apply("libseatphone_share.so");
}
