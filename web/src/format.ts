// Display formats: money in minor units, order states and reasons, times.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Money } from "@mercato/api/money/v1/money_pb";
import { OrderStatus, RejectReason } from "@mercato/api/orders/v1/orders_pb";

const formats = new Map<string, Intl.NumberFormat>();

function currencyFormat(currency: string): Intl.NumberFormat {
  let f = formats.get(currency);
  if (!f) {
    f = new Intl.NumberFormat(undefined, { style: "currency", currency });
    formats.set(currency, f);
  }
  return f;
}

/** money formats Money ("€12.50"), with the currency's own number of minor digits. */
export function money(m: Money | undefined): string {
  if (!m) return "–";
  try {
    const f = currencyFormat(m.currency);
    const digits = f.resolvedOptions().maximumFractionDigits ?? 2;
    return f.format(Number(m.amountMinor) / 10 ** digits);
  } catch {
    return `${m.amountMinor} ${m.currency} (minor units)`;
  }
}

/** minorUnits parses "12.5" into 1250 for a two-digit currency; undefined if it is not a price. */
export function minorUnits(text: string, currency: string): bigint | undefined {
  let digits = 2;
  try {
    digits = currencyFormat(currency).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    // an unknown currency: the server says so; parse with two digits meanwhile
  }
  const m = /^(\d{1,12})(?:[.,](\d+))?$/.exec(text.trim());
  if (!m || (m[2] ?? "").length > digits) return undefined;
  return BigInt(m[1]) * 10n ** BigInt(digits) + BigInt((m[2] ?? "").padEnd(digits, "0") || "0");
}

export function orderStatus(s: OrderStatus): string {
  switch (s) {
    case OrderStatus.PENDING:
      return "Pending";
    case OrderStatus.CONFIRMED:
      return "Confirmed";
    case OrderStatus.REJECTED:
      return "Rejected";
    case OrderStatus.CANCELED:
      return "Canceled";
    default:
      return "Unknown";
  }
}

const reasons: Record<RejectReason, string> = {
  [RejectReason.UNSPECIFIED]: "",
  [RejectReason.OUT_OF_STOCK]: "out of stock",
  [RejectReason.PAYMENT_DECLINED]: "payment declined",
  [RejectReason.CUSTOMER_INACTIVE]: "account inactive",
  [RejectReason.CUSTOMER_NOT_FOUND]: "account not found",
  [RejectReason.PRODUCT_NOT_FOUND]: "a product no longer exists",
  [RejectReason.DEPENDENCY_UNAVAILABLE]: "the shop could not complete it in time",
  [RejectReason.CURRENCY_MISMATCH]: "products in different currencies",
  [RejectReason.INTERNAL]: "an internal error",
};

export function rejectReason(r: RejectReason): string {
  return reasons[r] ?? "";
}

export function time(t: Timestamp | undefined): string {
  if (!t) return "";
  return new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)).toLocaleString();
}
