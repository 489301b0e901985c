// The parser ships no types. Only what checks.ts uses: it returns prom2json-shaped families.
declare module "parse-prometheus-text-format" {
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
