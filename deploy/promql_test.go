package deploy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// PromQL is read here only far enough to find the metric names an
// expression selects: a parser would bring in the whole of Prometheus.

var (
	promString    = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promMatchers  = regexp.MustCompile(`\{[^{}]*\}`)
	promRange     = regexp.MustCompile(`\[[^\[\]]*\]`)
	promGrouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promVariable  = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)
	promNumber    = regexp.MustCompile(`(^|[^A-Za-z0-9_:])(?:0x[0-9a-fA-F]+|(?:[0-9]+(?:ms|[smhdwy]))+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)`)
	promIdent     = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	promFollowing = regexp.MustCompile(`^\s*\(`)
)

// promFunctions are PromQL's functions and aggregations.
var promFunctions = set(
	"abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh", "avg", "avg_over_time",
	"bottomk", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh", "count", "count_over_time",
	"count_values", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg", "delta", "deriv", "exp",
	"floor", "group", "histogram_avg", "histogram_count", "histogram_fraction", "histogram_quantile",
	"histogram_stddev", "histogram_stdvar", "histogram_sum", "holt_winters", "hour", "idelta", "increase", "irate",
	"label_join", "label_replace", "last_over_time", "limitk", "limit_ratio", "ln", "log10", "log2", "mad_over_time",
	"max", "max_over_time", "min", "min_over_time", "minute", "month", "pi", "predict_linear", "present_over_time",
	"quantile", "quantile_over_time", "rad", "rate", "resets", "round", "scalar", "sgn", "sin", "sinh", "sort",
	"sort_by_label", "sort_by_label_desc", "sort_desc", "sqrt", "stddev", "stddev_over_time", "stdvar",
	"stdvar_over_time", "sum", "sum_over_time", "tan", "tanh", "time", "timestamp", "topk", "vector", "year",
)

// promKeywords are the words of PromQL that are neither functions nor names.
var promKeywords = set("and", "or", "unless", "bool", "offset", "inf", "nan", "atan2", "start", "end")

func set(vs ...string) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}

// metricNames returns the metric names expr selects, sorted, or an error
// for what this reader cannot check (a name given as __name__, a function
// it does not know).
func metricNames(expr string) ([]string, error) {
	if strings.Contains(expr, "__name__") {
		return nil, fmt.Errorf("%q selects by __name__: name the metric, so that it can be checked", expr)
	}
	s := promString.ReplaceAllString(expr, " ")
	for prev := ""; prev != s; {
		prev = s
		s = promMatchers.ReplaceAllString(s, " ")
		s = promRange.ReplaceAllString(s, " ")
		s = promGrouping.ReplaceAllString(s, " ")
	}
	s = promVariable.ReplaceAllString(s, " ")
	s = promNumber.ReplaceAllString(s, "$1 ") // keeps the character before the number
	var names []string
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		word := s[loc[0]:loc[1]]
		called := promFollowing.MatchString(s[loc[1]:])
		switch {
		case called && promFunctions[word]:
		case called:
			return nil, fmt.Errorf("%q calls %s, which is not a PromQL function this check knows", expr, word)
		case promKeywords[strings.ToLower(word)]:
		default:
			if !slices.Contains(names, word) {
				names = append(names, word)
			}
		}
	}
	slices.Sort(names)
	return names, nil
}
