# Structural checks of one Grafana dashboard (jq 1.6).  Prints one line per
# problem, "FILE: where: message"; prints nothing for a good dashboard.
#
# Arguments (jq --arg / --argjson):
#   file     the dashboard's path, for messages
#   ds_uid   the provisioned data source's uid
#   schema   {"measurement": ["field", ...], ...}: what greenwatchd writes
#   tags     ["tag", ...]: tag keys of every measurement
#   untimed  ["uid:panel title", ...]: panels allowed to query without $timeFilter

def builtin_vars: ["timeFilter", "__interval", "__interval_ms", "interval", "__from", "__to",
                   "__range", "__range_s", "__range_ms", "__rate_interval", "__dashboard",
                   "__org", "__user", "__name", "__timeFilter", "tag_", "col", "m"];

def keywords: ["SELECT", "FROM", "WHERE", "AND", "OR", "GROUP", "BY", "AS", "FILL", "NONE",
               "NULL", "PREVIOUS", "LINEAR", "TZ", "TIME", "ORDER", "DESC", "ASC", "LIMIT",
               "SLIMIT", "OFFSET", "SHOW", "TAG", "VALUES", "WITH", "KEY", "NOW",
               "MEAN", "SUM", "MIN", "MAX", "COUNT", "FIRST", "LAST", "MEDIAN", "SPREAD",
               "STDDEV", "PERCENTILE", "INTEGRAL", "DIFFERENCE", "NON_NEGATIVE_DIFFERENCE",
               "DERIVATIVE", "NON_NEGATIVE_DERIVATIVE", "CUMULATIVE_SUM", "ELAPSED",
               "TOP", "BOTTOM", "ID", "STR", "RE"];

# Regex literals (only after =~ and !~) and single-quoted strings replaced by
# the tokens RE and STR, so that what remains is identifiers, keywords and numbers.
def unliteral:
  gsub("(?<op>=~|!~)\\s*/(?:\\\\/|[^/])*/"; "\(.op) RE")
  | gsub("'(?:[^'\\\\]|\\\\.)*'"; "STR");

def quoted_idents: [scan("\"((?:[^\"\\\\]|\\\\.)*)\"") | .[0]];

# Variables referenced as $name, ${name} or ${name:format}.
def var_refs: [scan("\\$\\{?([A-Za-z_][A-Za-z0-9_]*)") | .[0]];

# The GROUP BY clauses of a query: the text after each GROUP BY up to the
# parenthesis that closes its subquery (or the end).
def group_clauses:
  [splits("GROUP BY ")] | .[1:]
  | map(capture("^(?<c>(?:[^()]|\\([^()]*\\))*)").c);

# Problems of one InfluxQL text; ctx names where it is.
def lint_query($ctx; $schema; $tags; $vars; $needs_time; $needs_site):
  . as $q
  | ($q | unliteral) as $u
  | ($u | quoted_idents) as $ids
  | ([$u | scan("FROM \"([^\"]+)\"") | .[0]]) as $meas
  | ([$u | scan("AS \"([^\"]+)\"") | .[0]]) as $aliases
  | ([$meas[] | $schema[.] // [] | .[]]) as $fields
  | (
      ($meas[] | select($schema[.] == null) | "\($ctx): unknown measurement \"\(.)\""),
      (if ($meas | length) == 0 and ($q | test("^SELECT")) then "\($ctx): no FROM \"measurement\"" else empty end),
      ($ids[] | select(. as $i | ($meas | index([$i])) == null and ($aliases | index([$i])) == null
                       and ($tags | index([$i])) == null and ($fields | index([$i])) == null)
              | "\($ctx): \"\(.)\" is no field of \($meas | map("\"" + . + "\"") | join(", ")) nor a tag"),
      ($u | gsub("\"(?:[^\"\\\\]|\\\\.)*\""; "ID")
          | gsub("\\$\\{[^}]*\\}|\\$[A-Za-z_][A-Za-z0-9_]*"; " ")
          | gsub("\\b[0-9][0-9.]*(?:e[+-]?[0-9]+)?(?:ns|u|ms|s|m|h|d|w)?\\b"; " ")
          | [scan("[A-Za-z_][A-Za-z0-9_]*")] | unique[]
          | select(ascii_upcase as $w | (keywords | index([$w])) == null)
          | "\($ctx): bare word \(.) (quote identifiers: \"name\")"),
      ($q | var_refs[] | select(. as $v | ($vars | index([$v])) == null and (builtin_vars | index([$v])) == null
                                and (startswith("tag_") | not))
          | "\($ctx): undefined variable $\(.)"),
      ($q | group_clauses[]
          | select(test("time\\(\\s*[0-9]+[dw]") or test("time\\([^)]*,"))
          | select(test("tz\\('\\$timezone'\\)") | not)
          | "\($ctx): GROUP BY \(.) groups by days or with an offset but has no tz('$timezone')"),
      ($q | [scan("tz\\(([^)]*)\\)") | .[0]] | .[] | select(. != "'$timezone'")
          | "\($ctx): tz(\(.)): use tz('$timezone')"),
      ($q | [scan("time\\(([^)]*)\\)") | .[0]] | .[]
          | select(test("^(\\$__interval|[0-9]+[smhdw](, *[0-9]+[smh])?)$") | not)
          | "\($ctx): time(\(.)): only s, m, h, d and w intervals (no calendar months)"),
      (if $needs_time and ($q | test("\\$timeFilter") | not) then "\($ctx): no $timeFilter" else empty end),
      (if $needs_site and ($q | test("\"site\" =~ /\\^\\$site\\$/") | not) then "\($ctx): no \"site\" =~ /^$site$/ filter" else empty end)
    );

def all_panels: [.panels[]? | ., (.panels[]? // empty)];

. as $d
| ($d.uid // "") as $uid
| [$d.templating.list[]?.name] as $vars
| ($d.templating.list // []) as $tl
| def var_index($n): ([$tl[].name] | index($n));
  def var_query($n): ([$tl[] | select(.name == $n) | .query] | first // "");
  (
    (if $uid == "" then "\($file): no uid" elif ($uid | length) > 40 then "\($file): uid longer than 40 characters" else empty end),
    (if ($d.title // "") == "" then "\($file): no title" else empty end),
    (if ($d.schemaVersion // 0) < 36 or ($d.schemaVersion // 0) > 39 then "\($file): schemaVersion \($d.schemaVersion) is not Grafana 9/10 (36..39)" else empty end),
    (if $d.id != null then "\($file): id must be null (provisioned dashboards get theirs from Grafana)" else empty end),

    # template variables: site -> building -> device, a time zone
    (if var_index("site") == null then "\($file): no site variable" else empty end),
    (if var_index("site") != null and (var_query("site") | test("WITH KEY = \"site\"") | not) then "\($file): $site is not SHOW TAG VALUES ... KEY = \"site\"" else empty end),
    (if var_index("building") != null then
        (if (var_query("building") | test("\"site\" =~ /\\^\\$site\\$/") | not) then "\($file): $building does not depend on $site" else empty end),
        (if var_index("building") < var_index("site") then "\($file): $building comes before $site" else empty end)
     else empty end),
    (if var_index("device") != null then
        (if var_index("building") == null then "\($file): $device without $building" else empty end),
        (if (var_query("device") | test("\"site\" =~ /\\^\\$site\\$/") and test("\"building\" =~ /\\^\\$building\\$/")) | not
         then "\($file): $device does not depend on $site and $building" else empty end),
        (if var_index("building") != null and var_index("device") < var_index("building") then "\($file): $device comes before $building" else empty end)
     else empty end),
    ($tl[] | select(.type == "query") | . as $v
      | (if $v.datasource.uid != $ds_uid then "\($file): variable \($v.name): data source is not \($ds_uid)" else empty end),
        ($v.query | lint_query("\($file): variable \($v.name)"; $schema; $tags; $vars; false; false)),
        (if (.query | test("^SHOW TAG VALUES (FROM \"[a-z]+\" )?WITH KEY = \"[a-z_]+\"")) | not
         then "\($file): variable \(.name): not a SHOW TAG VALUES query" else empty end),
        (.query | [scan("KEY = \"([^\"]+)\"") | .[0]] | .[] | select(. as $k | ($tags | index([$k])) == null)
         | "\($file): variable: \(.) is not a tag key")),
    (if var_index("timezone") == null then "\($file): no timezone variable"
     else ([$tl[] | select(.name == "timezone")][0]) as $tz
       | (if $tz.current.value != "Asia/Shanghai" then "\($file): $timezone does not default to Asia/Shanghai" else empty end),
         (if $d.timezone != $tz.current.value then "\($file): the dashboard's time zone \($d.timezone) is not $timezone's default" else empty end)
     end),

    # panels
    (all_panels as $ps
     | ([$ps[].id] | group_by(.) | map(select(length > 1) | .[0]) | .[] | "\($file): panel id \(.) is not unique"),
       ($ps[] | select(.type != "row") | . as $p
        | ("\($file): panel \"\($p.title // "")\"") as $ctx
        | (if ($p.title // "") == "" then "\($file): panel \($p.id) has no title" else empty end),
          (if $p.datasource.uid != $ds_uid or $p.datasource.type != "influxdb" then "\($ctx): data source is not the provisioned \($ds_uid)" else empty end),
          (if ($p.targets // []) | length == 0 then "\($ctx): no query" else empty end),
          (if ($p.gridPos.w // 0) < 1 or ($p.gridPos.x // 0) + ($p.gridPos.w // 0) > 24 then "\($ctx): gridPos outside the 24 columns" else empty end),
          (if $p.timeFrom != null and ($p.timeFrom | test("^now(/[dwMy]|-[0-9]+[mhdwMy](/[dwMy])?)$") | not)
           then "\($ctx): timeFrom \($p.timeFrom) is not a Grafana relative time" else empty end),
          ($p.targets[]? | . as $t
           | ("\($ctx) query \($t.refId)") as $tctx
           | (if $t.datasource.uid != $ds_uid then "\($tctx): data source is not \($ds_uid)" else empty end),
             (if $t.rawQuery != true or ($t.query // "") == "" then "\($tctx): not a raw InfluxQL query" else empty end),
             (if ["time_series", "table"] | index([$t.resultFormat]) | not then "\($tctx): resultFormat \($t.resultFormat)" else empty end),
             ($t.query // "" | lint_query($tctx; $schema; $tags; $vars;
                                          ($untimed | index(["\($uid):\($p.title)"])) == null; true))))
    )
  )
