using System.Globalization;
using System.Text;

namespace LlmKit.Chat.Templates.Jinja;

// Globals, filters and tests: the ones Jinja2 ships that Hugging Face chat templates use, plus HF's
// raise_exception and strftime_now. Anything else fails with an error naming it.
internal sealed partial class JinjaRenderer
{
    private IEnumerable<(string Name, object Value)> Globals()
    {
        yield return ("raise_exception", new JinjaCallable("raise_exception", (args, _, _) =>
            throw new ChatTemplateException($"The chat template raised an error: {(args.Count > 0 ? Py.Str(args[0]) : "")}")));
        yield return ("range", new JinjaCallable("range", Range));
        yield return ("namespace", new JinjaCallable("namespace", (args, kwargs, line) =>
        {
            var ns = new JinjaDict(isNamespace: true);
            foreach (var arg in args)
            {
                if (arg is not JinjaDict initial)
                {
                    throw JinjaErrors.Runtime(line, "namespace() takes a dict or keyword arguments");
                }

                foreach (var (key, value) in initial.Items)
                {
                    ns[key] = value;
                }
            }

            foreach (var (key, value) in kwargs)
            {
                ns[key] = value;
            }

            return ns;
        }));
        yield return ("dict", new JinjaCallable("dict", (_, kwargs, _) =>
        {
            var dict = new JinjaDict();
            foreach (var (key, value) in kwargs)
            {
                dict[key] = value;
            }

            return dict;
        }));
        yield return ("strftime_now", new JinjaCallable("strftime_now", (args, _, line) =>
            args is [string format] ? Strftime(_clock.GetLocalNow(), format) : throw JinjaErrors.Runtime(line, "strftime_now takes one format string")));
    }

    private List<object?> Range(List<object?> args, List<(string, object?)> kwargs, int line)
    {
        if (kwargs.Count > 0 || args.Count is 0 or > 3 || args.Any(a => a is not long))
        {
            throw JinjaErrors.Runtime(line, "range() takes one to three integers");
        }

        long start = args.Count == 1 ? 0 : (long)args[0]!;
        long stop = args.Count == 1 ? (long)args[0]! : (long)args[1]!;
        long step = args.Count == 3 ? (long)args[2]! : 1;
        if (step == 0)
        {
            throw JinjaErrors.Runtime(line, "range() step must not be zero");
        }

        long count = step > 0 ? Math.Max(0, (stop - start + step - 1) / step) : Math.Max(0, (start - stop - step - 1) / -step);
        CountIterations(count, line); // before allocating
        var result = new List<object?>((int)count);
        for (long i = 0, v = start; i < count; i++, v += step)
        {
            result.Add(v);
        }

        return result;
    }

    /// <summary>Python's strftime for the directives chat templates use (dates in system prompts).</summary>
    internal static string Strftime(DateTimeOffset now, string format)
    {
        var culture = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                text.Append(format[i]);
                continue;
            }

            char directive = format[++i];
            bool noPad = directive == '-' && i + 1 < format.Length; // glibc's %-d
            if (noPad)
            {
                directive = format[++i];
            }

            string value = directive switch
            {
                'd' => now.Day.ToString(noPad ? "0" : "00", culture),
                'm' => now.Month.ToString(noPad ? "0" : "00", culture),
                'Y' => now.Year.ToString("0000", culture),
                'y' => (now.Year % 100).ToString("00", culture),
                'H' => now.Hour.ToString(noPad ? "0" : "00", culture),
                'I' => (now.Hour % 12 == 0 ? 12 : now.Hour % 12).ToString(noPad ? "0" : "00", culture),
                'M' => now.Minute.ToString(noPad ? "0" : "00", culture),
                'S' => now.Second.ToString(noPad ? "0" : "00", culture),
                'p' => now.Hour < 12 ? "AM" : "PM",
                'b' or 'h' => now.ToString("MMM", culture),
                'B' => now.ToString("MMMM", culture),
                'a' => now.ToString("ddd", culture),
                'A' => now.ToString("dddd", culture),
                'j' => now.DayOfYear.ToString(noPad ? "0" : "000", culture),
                'w' => ((int)now.DayOfWeek).ToString(culture),
                'Z' => now.Offset == TimeSpan.Zero ? "UTC" : "",
                'z' => (now.Offset < TimeSpan.Zero ? "-" : "+") + now.Offset.ToString("hhmm", culture),
                '%' => "%",
                _ => "%" + directive,
            };
            text.Append(value);
        }

        return text.ToString();
    }

    private object? ApplyFilter(FilterExpr filter, Scope scope)
    {
        object? value = Evaluate(filter.Target, scope);
        var args = filter.Args.Select(a => Evaluate(a, scope)).ToList();
        var kwargs = filter.Kwargs.ToDictionary(k => k.Name, k => Evaluate(k.Value, scope), StringComparer.Ordinal);
        return Filter(filter.Name, value, args, kwargs, filter.Line);
    }

    private static object? Arg(List<object?> args, Dictionary<string, object?> kwargs, int index, string name, object? fallback) =>
        kwargs.TryGetValue(name, out var value) ? value : index < args.Count ? args[index] : fallback;

    private object? Filter(string name, object? value, List<object?> args, Dictionary<string, object?> kwargs, int line)
    {
        switch (name)
        {
            case "safe":
                return value;
            case "string":
                return Py.Str(value);
            case "trim":
                return Arg(args, kwargs, 0, "chars", null) is string chars ? Py.Str(value).Trim(chars.ToCharArray()) : Py.Str(value).Trim();
            case "upper":
                return Py.Str(value).ToUpperInvariant();
            case "lower":
                return Py.Str(value).ToLowerInvariant();
            case "capitalize":
                return BuiltinMethods.Capitalize(Py.Str(value));
            case "title":
                return BuiltinMethods.TitleFilter(Py.Str(value));
            case "length" or "count":
                return (long)(value switch
                {
                    string s => Py.Length(s),
                    List<object?> list => list.Count,
                    JinjaDict dict => dict.Items.Count,
                    Undefined => 0,
                    _ => throw JinjaErrors.Runtime(line, $"a {Py.TypeName(value)} has no length"),
                });
            case "first":
                var firstItems = Iterate(value, line);
                return firstItems.Count > 0 ? firstItems[0] : new Undefined("first");
            case "last":
                var lastItems = Iterate(value, line);
                return lastItems.Count > 0 ? lastItems[^1] : new Undefined("last");
            case "list":
                return new List<object?>(Iterate(value, line));
            case "reverse":
                if (value is string rs)
                {
                    var letters = Py.Characters(rs);
                    letters.Reverse();
                    return string.Concat(letters.Cast<string>());
                }

                var reversed = new List<object?>(Iterate(value, line));
                reversed.Reverse();
                return reversed;
            case "join":
                return Join(value, args, kwargs, line);
            case "default" or "d":
                object? fallback = Arg(args, kwargs, 0, "default_value", "");
                bool boolean = Py.Truthy(Arg(args, kwargs, 1, "boolean", false));
                return value is Undefined || (boolean && !Py.Truthy(value)) ? fallback : value;
            case "replace":
                return BuiltinMethods.Replace(Py.Str(value), Py.Str(Arg(args, kwargs, 0, "old", "")), Py.Str(Arg(args, kwargs, 1, "new", "")), Arg(args, kwargs, 2, "count", null));
            case "items":
                return value switch
                {
                    JinjaDict dict => BuiltinMethods.Items(dict),
                    Undefined => new List<object?>(),
                    _ => throw JinjaErrors.Runtime(line, $"items: a {Py.TypeName(value)} is not a mapping"),
                };
            case "dictsort":
                return DictSort(value, args, kwargs, line);
            case "tojson":
                int? indent = Arg(args, kwargs, 0, "indent", null) switch
                {
                    null => null,
                    long n => (int)Math.Clamp(n, 0, 64),
                    var other => throw JinjaErrors.Runtime(line, $"tojson: indent must be an integer, not {Py.TypeName(other)}"),
                };
                bool sortKeys = Py.Truthy(Arg(args, kwargs, 99, "sort_keys", false));
                bool ensureAscii = Py.Truthy(Arg(args, kwargs, 99, "ensure_ascii", false));
                string json = PyJson.Dumps(value, indent, sortKeys, ensureAscii, line);
                CheckSize(json.Length, line);
                return json;
            case "int":
                return ToInt(value, Arg(args, kwargs, 0, "default", 0L));
            case "float":
                return ToFloat(value, Arg(args, kwargs, 0, "default", 0.0));
            case "abs":
                return value switch
                {
                    long l => (object)checked(Math.Abs(l)), // (object): a long arm beside a double one would be widened to double
                    double d => Math.Abs(d),
                    _ => throw JinjaErrors.Runtime(line, $"abs: a {Py.TypeName(value)} is not a number"),
                };
            case "indent":
                return Indent(Py.Str(value), Arg(args, kwargs, 0, "width", 4L), Py.Truthy(Arg(args, kwargs, 1, "first", false)), Py.Truthy(Arg(args, kwargs, 2, "blank", false)));
            case "sum":
                object? total = Arg(args, kwargs, 1, "start", 0L);
                foreach (var item in Iterate(value, line))
                {
                    var addend = Arg(args, kwargs, 0, "attribute", null) is { } attr ? GetItemOrAttribute(item, attr, line) : item;
                    total = Arithmetic("+", total, addend, line);
                }

                return total;
            case "min" or "max":
                var candidates = Iterate(value, line);
                if (candidates.Count == 0)
                {
                    return new Undefined(name);
                }

                object? best = candidates[0];
                foreach (var item in candidates.Skip(1))
                {
                    int order = Py.Compare(item, best) ?? throw JinjaErrors.Runtime(line, $"{name}: cannot order {Py.TypeName(item)} and {Py.TypeName(best)}");
                    if (name == "min" ? order < 0 : order > 0)
                    {
                        best = item;
                    }
                }

                return best;
            case "round":
                int precision = (int)Math.Clamp(Arg(args, kwargs, 0, "precision", 0L) is long pr ? pr : 0, 0, 15);
                string method = Py.Str(Arg(args, kwargs, 1, "method", "common"));
                double number = Py.IsNumber(value) ? Py.ToDouble(value) : throw JinjaErrors.Runtime(line, $"round: a {Py.TypeName(value)} is not a number");
                double scale = Math.Pow(10, precision);
                return method switch
                {
                    "floor" => Math.Floor(number * scale) / scale,
                    "ceil" => Math.Ceiling(number * scale) / scale,
                    _ when value is long => value, // Python's round() keeps an int an int
                    _ => Math.Round(number, precision, MidpointRounding.ToEven), // "common" is Python's round(): halves to even
                };
            case "escape" or "e":
                return Py.Str(value).Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
                    .Replace(">", "&gt;", StringComparison.Ordinal).Replace("\"", "&#34;", StringComparison.Ordinal).Replace("'", "&#39;", StringComparison.Ordinal);
            case "unique":
                var unique = new List<object?>();
                foreach (var item in Iterate(value, line))
                {
                    if (!unique.Any(u => Py.ValueEquals(u, item)))
                    {
                        unique.Add(item);
                    }
                }

                return unique;
            case "sort":
                return Sort(value, args, kwargs, line);
            case "map":
                return Map(value, args, kwargs, line);
            case "select" or "reject":
                return Select(value, args, attribute: null, keep: name == "select", line);
            case "selectattr" or "rejectattr":
                if (args.Count == 0 || args[0] is not string attribute)
                {
                    throw JinjaErrors.Runtime(line, $"{name} needs an attribute name");
                }

                return Select(value, args.Skip(1).ToList(), attribute, keep: name == "selectattr", line);
            default:
                throw JinjaErrors.Runtime(line, $"no filter named '{name}'");
        }
    }

    private string Join(object? value, List<object?> args, Dictionary<string, object?> kwargs, int line)
    {
        string separator = Py.Str(Arg(args, kwargs, 0, "d", ""));
        object? attribute = Arg(args, kwargs, 1, "attribute", null);
        var items = Iterate(value, line);
        var text = new StringBuilder();
        for (int i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                text.Append(separator);
            }

            text.Append(Py.Str(attribute is null ? items[i] : GetItemOrAttribute(items[i], attribute, line)));
            CheckSize(text.Length, line);
        }

        return text.ToString();
    }

    // Jinja's attribute lookups in filters accept dotted paths ("function.name") and integer indices.
    private static object? GetItemOrAttribute(object? item, object? attribute, int line)
    {
        if (attribute is long index)
        {
            return GetItem(item, index, line);
        }

        object? current = item;
        foreach (string part in Py.Str(attribute).Split('.'))
        {
            current = current is Undefined ? current : GetItem(current, long.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) ? n : part, line);
        }

        return current;
    }

    private List<object?> Select(object? value, List<object?> args, string? attribute, bool keep, int line)
    {
        var result = new List<object?>();
        string? test = args.Count > 0 ? Py.Str(args[0]) : null;
        var testArgs = args.Skip(1).ToList();
        foreach (var item in Iterate(value, line))
        {
            CountIterations(1, line);
            object? subject = attribute is null ? item : GetItemOrAttribute(item, attribute, line);
            bool passed = test is null ? Py.Truthy(subject) : ApplyTest(test, subject, testArgs, line);
            if (passed == keep)
            {
                result.Add(item);
            }
        }

        return result;
    }

    private List<object?> Map(object? value, List<object?> args, Dictionary<string, object?> kwargs, int line)
    {
        var result = new List<object?>();
        foreach (var item in Iterate(value, line))
        {
            CountIterations(1, line);
            if (kwargs.TryGetValue("attribute", out var attribute))
            {
                object? mapped = GetItemOrAttribute(item, attribute, line);
                result.Add(mapped is Undefined && kwargs.TryGetValue("default", out var fallback) ? fallback : mapped);
            }
            else if (args.Count > 0 && args[0] is string filterName)
            {
                result.Add(Filter(filterName, item, args.Skip(1).ToList(), [], line));
            }
            else
            {
                throw JinjaErrors.Runtime(line, "map needs attribute= or a filter name");
            }
        }

        return result;
    }

    private List<object?> Sort(object? value, List<object?> args, Dictionary<string, object?> kwargs, int line)
    {
        bool reverse = Py.Truthy(Arg(args, kwargs, 0, "reverse", false));
        bool caseSensitive = Py.Truthy(Arg(args, kwargs, 1, "case_sensitive", false));
        object? attribute = Arg(args, kwargs, 2, "attribute", null);
        var items = new List<object?>(Iterate(value, line));
        object? Key(object? item)
        {
            object? key = attribute is null ? item : GetItemOrAttribute(item, attribute, line);
            return !caseSensitive && key is string s ? s.ToLowerInvariant() : key;
        }

        CountIterations(items.Count, line);
        var sorted = items.Select(i => (Key: Key(i), Item: i)).ToList();
        SortStable(sorted, line);
        if (reverse)
        {
            sorted.Reverse();
        }

        return sorted.Select(p => p.Item).ToList();
    }

    private static void SortStable(List<(object? Key, object? Item)> items, int line)
    {
        // Insertion into a stable order: List.Sort is not stable, Python's sort is.
        var ordered = items.Select((p, i) => (p, i)).OrderBy(x => x.p.Key, Comparer<object?>.Create((a, b) =>
            Py.Compare(a, b) ?? throw JinjaErrors.Runtime(line, $"cannot order {Py.TypeName(a)} and {Py.TypeName(b)}"))).ThenBy(x => x.i).Select(x => x.p).ToList();
        items.Clear();
        items.AddRange(ordered);
    }

    private List<object?> DictSort(object? value, List<object?> args, Dictionary<string, object?> kwargs, int line)
    {
        if (value is not JinjaDict dict)
        {
            throw JinjaErrors.Runtime(line, $"dictsort: a {Py.TypeName(value)} is not a mapping");
        }

        bool caseSensitive = Py.Truthy(Arg(args, kwargs, 0, "case_sensitive", false));
        bool byValue = Py.Str(Arg(args, kwargs, 1, "by", "key")) == "value";
        bool reverse = Py.Truthy(Arg(args, kwargs, 2, "reverse", false));
        CountIterations(dict.Items.Count, line);
        var pairs = BuiltinMethods.Items(dict).Select(p => ((List<object?>)p!)).Select(p =>
        {
            object? key = byValue ? p[1] : p[0];
            return (Key: !caseSensitive && key is string s ? s.ToLowerInvariant() : key, Item: (object?)p);
        }).ToList();
        SortStable(pairs, line);
        if (reverse)
        {
            pairs.Reverse();
        }

        return pairs.Select(p => p.Item).ToList();
    }

    private static string Indent(string text, object? width, bool first, bool blank)
    {
        string indentation = width is string s ? s : new string(' ', (int)Math.Clamp(width is long l ? l : 4, 0, 256));
        var lines = (text + "\n").ReplaceLineEndings("\n").Split('\n').ToList();
        lines.RemoveAt(lines.Count - 1); // splitlines() drops the piece after the final newline
        string result;
        if (blank)
        {
            result = string.Join("\n" + indentation, lines);
        }
        else
        {
            result = lines[0];
            if (lines.Count > 1)
            {
                result += "\n" + string.Join("\n", lines.Skip(1).Select(line => line.Length > 0 ? indentation + line : line));
            }
        }

        return first ? indentation + result : result;
    }

    private static object? ToInt(object? value, object? fallback) => value switch
    {
        long l => l,
        bool b => b ? 1L : 0L,
        double d when !double.IsNaN(d) && !double.IsInfinity(d) && Math.Abs(d) < 9e18 => (long)Math.Truncate(d),
        string s when long.TryParse(s.Trim().Replace("_", "", StringComparison.Ordinal), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long parsed) => parsed,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed) && Math.Abs(parsed) < 9e18 => (long)Math.Truncate(parsed),
        _ => fallback,
    };

    private static object? ToFloat(object? value, object? fallback) => value switch
    {
        long l => (double)l,
        bool b => b ? 1.0 : 0.0,
        double d => d,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed) => parsed,
        _ => fallback,
    };

    private bool ApplyTest(string name, object? value, List<object?> args, int line)
    {
        object? Arg0() => args.Count > 0 ? args[0] : throw JinjaErrors.Runtime(line, $"the '{name}' test needs an argument");
        switch (name)
        {
            case "defined": return value is not Undefined;
            case "undefined": return value is Undefined;
            case "none": return value is null;
            case "string": return value is string;
            case "mapping": return value is JinjaDict { IsNamespace: false };
            case "iterable": return value is string or List<object?> or JinjaDict { IsNamespace: false };
            case "sequence": return value is string or List<object?> or JinjaDict { IsNamespace: false };
            case "number": return value is long or double or bool;
            case "integer": return value is long;
            case "float": return value is double;
            case "boolean": return value is bool;
            case "true": return value is true;
            case "false": return value is false;
            case "callable": return value is JinjaCallable;
            case "odd": return value is long o ? (o & 1) == 1 : throw JinjaErrors.Runtime(line, "the 'odd' test needs an integer");
            case "even": return value is long e ? (e & 1) == 0 : throw JinjaErrors.Runtime(line, "the 'even' test needs an integer");
            case "divisibleby": return value is long a && Arg0() is long b && b != 0 ? a % b == 0 : throw JinjaErrors.Runtime(line, "the 'divisibleby' test needs non-zero integers");
            case "lower": return value is string ls && ls == ls.ToLowerInvariant();
            case "upper": return value is string us && us == us.ToUpperInvariant();
            case "equalto" or "eq" or "==": return Py.ValueEquals(value, Arg0());
            case "ne" or "!=": return !Py.ValueEquals(value, Arg0());
            case "sameas": return value is null || value is bool ? Py.ValueEquals(value, Arg0()) && (value is null == Arg0() is null) : ReferenceEquals(value, Arg0());
            case "in": return Contains(Arg0(), value, line);
            case "lt" or "lessthan" or "<": return CompareOnce("<", value, Arg0(), line);
            case "le" or "<=": return CompareOnce("<=", value, Arg0(), line);
            case "gt" or "greaterthan" or ">": return CompareOnce(">", value, Arg0(), line);
            case "ge" or ">=": return CompareOnce(">=", value, Arg0(), line);
            default: throw JinjaErrors.Runtime(line, $"no test named '{name}'");
        }
    }
}

/// <summary>The str and dict methods templates call (<c>content.strip()</c>, <c>tool.items()</c>...): bound to their receiver, read-only.</summary>
internal static class BuiltinMethods
{
    public static JinjaCallable? DictMethod(JinjaDict dict, string name) => name switch
    {
        "items" => new JinjaCallable(name, (_, _, _) => Items(dict)),
        "keys" => new JinjaCallable(name, (_, _, _) => dict.Items.Keys.Cast<object?>().ToList()),
        "values" => new JinjaCallable(name, (_, _, _) => dict.Items.Values.ToList()),
        "get" => new JinjaCallable(name, (args, _, line) => args.Count is 1 or 2
            ? args[0] is string key && dict.TryGet(key, out var value) ? value : args.Count == 2 ? args[1] : null
            : throw JinjaErrors.Runtime(line, "get() takes a key and an optional default")),
        _ => null,
    };

    public static List<object?> Items(JinjaDict dict) => dict.Items.Select(p => (object?)new JinjaTuple([p.Key, p.Value])).ToList();

    public static JinjaCallable? StringMethod(string s, string name) => name switch
    {
        "strip" => new JinjaCallable(name, (args, _, _) => args is [string chars] ? s.Trim(chars.ToCharArray()) : s.Trim()),
        "lstrip" => new JinjaCallable(name, (args, _, _) => args is [string chars] ? s.TrimStart(chars.ToCharArray()) : s.TrimStart()),
        "rstrip" => new JinjaCallable(name, (args, _, _) => args is [string chars] ? s.TrimEnd(chars.ToCharArray()) : s.TrimEnd()),
        "upper" => new JinjaCallable(name, (_, _, _) => s.ToUpperInvariant()),
        "lower" => new JinjaCallable(name, (_, _, _) => s.ToLowerInvariant()),
        "title" => new JinjaCallable(name, (_, _, _) => Title(s)),
        "capitalize" => new JinjaCallable(name, (_, _, _) => Capitalize(s)),
        "startswith" => new JinjaCallable(name, (args, _, line) => Affix(s, args, line, start: true)),
        "endswith" => new JinjaCallable(name, (args, _, line) => Affix(s, args, line, start: false)),
        "split" => new JinjaCallable(name, (args, kwargs, line) => Split(s, args, kwargs, line)),
        "replace" => new JinjaCallable(name, (args, _, line) => args.Count is 2 or 3
            ? Replace(s, Py.Str(args[0]), Py.Str(args[1]), args.Count == 3 ? args[2] : null)
            : throw JinjaErrors.Runtime(line, "replace() takes old, new and an optional count")),
        "find" => new JinjaCallable(name, (args, _, line) => args is [string sub] ? (long)s.IndexOf(sub, StringComparison.Ordinal) : throw JinjaErrors.Runtime(line, "find() takes a string")),
        "count" => new JinjaCallable(name, (args, _, line) => args is [string sub] ? Count(s, sub) : throw JinjaErrors.Runtime(line, "count() takes a string")),
        "join" => new JinjaCallable(name, (args, _, line) => args is [var items] ? string.Join(s, JinjaRenderer.Iterate(items, line).Select(Py.Str)) : throw JinjaErrors.Runtime(line, "join() takes one iterable")),
        "isdigit" => new JinjaCallable(name, (_, _, _) => s.Length > 0 && s.All(char.IsDigit)),
        "isspace" => new JinjaCallable(name, (_, _, _) => s.Length > 0 && s.All(char.IsWhiteSpace)),
        "splitlines" => new JinjaCallable(name, (_, _, _) =>
        {
            var lines = s.ReplaceLineEndings("\n").Split('\n').Cast<object?>().ToList();
            if (lines.Count > 0 && (string)lines[^1]! == "")
            {
                lines.RemoveAt(lines.Count - 1);
            }

            return lines;
        }),
        _ => null,
    };

    private static long Count(string s, string sub)
    {
        if (sub.Length == 0)
        {
            return Py.Length(s) + 1;
        }

        long count = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static bool Affix(string s, List<object?> args, int line, bool start)
    {
        if (args.Count != 1)
        {
            throw JinjaErrors.Runtime(line, (start ? "startswith" : "endswith") + "() takes one string or a tuple of strings");
        }

        var candidates = args[0] is List<object?> list ? list : [args[0]];
        return candidates.Any(c => c is string text
            ? start ? s.StartsWith(text, StringComparison.Ordinal) : s.EndsWith(text, StringComparison.Ordinal)
            : throw JinjaErrors.Runtime(line, "startswith/endswith take strings"));
    }

    private static List<object?> Split(string s, List<object?> args, List<(string Name, object? Value)> kwargs, int line)
    {
        object? separator = args.Count > 0 ? args[0] : kwargs.FirstOrDefault(k => k.Name == "sep").Value;
        object? max = args.Count > 1 ? args[1] : kwargs.FirstOrDefault(k => k.Name == "maxsplit").Value;
        long maxSplit = max is long m ? m : -1;
        if (separator is null)
        {
            // Python's split() with no separator: runs of whitespace, no empty pieces.
            var pieces = new List<object?>();
            int i = 0;
            while (i < s.Length)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i]))
                {
                    i++;
                }

                if (i >= s.Length)
                {
                    break;
                }

                if (maxSplit >= 0 && pieces.Count == maxSplit)
                {
                    pieces.Add(s[i..].TrimEnd());
                    break;
                }

                int start = i;
                while (i < s.Length && !char.IsWhiteSpace(s[i]))
                {
                    i++;
                }

                pieces.Add(s[start..i]);
            }

            return pieces;
        }

        if (separator is not string sep || sep.Length == 0)
        {
            throw JinjaErrors.Runtime(line, "split() needs a non-empty string separator");
        }

        var parts = maxSplit < 0 ? s.Split(sep) : s.Split(sep, (int)Math.Min(maxSplit + 1, int.MaxValue));
        return parts.Cast<object?>().ToList();
    }

    public static string Replace(string s, string old, string replacement, object? count)
    {
        long max = count is long c ? c : -1;
        if (max < 0)
        {
            return old.Length == 0 ? string.Concat(Py.Characters(s).Select(ch => replacement + ch)) + replacement : s.Replace(old, replacement, StringComparison.Ordinal);
        }

        var text = new StringBuilder();
        int pos = 0;
        for (long n = 0; n < max && old.Length > 0; n++)
        {
            int found = s.IndexOf(old, pos, StringComparison.Ordinal);
            if (found < 0)
            {
                break;
            }

            text.Append(s, pos, found - pos).Append(replacement);
            pos = found + old.Length;
        }

        return text.Append(s, pos, s.Length - pos).ToString();
    }

    public static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    /// <summary>Jinja's title filter: words start after spaces, hyphens and opening brackets (unlike str.title(), not after apostrophes).</summary>
    public static string TitleFilter(string s)
    {
        var text = new StringBuilder(s.Length);
        bool wordStart = true;
        foreach (char c in s)
        {
            text.Append(wordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            wordStart = char.IsWhiteSpace(c) || c is '-' or '(' or '{' or '[' or '<';
        }

        return text.ToString();
    }

    public static string Title(string s)
    {
        var text = new StringBuilder(s.Length);
        bool previousIsLetter = false;
        foreach (char c in s)
        {
            text.Append(previousIsLetter ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousIsLetter = char.IsLetter(c);
        }

        return text.ToString();
    }
}
