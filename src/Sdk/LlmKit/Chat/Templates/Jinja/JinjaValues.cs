using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LlmKit.Chat.Templates.Jinja;

// The value model: null (Python None), bool, long, double, string, List<object?> (lists and tuples),
// JinjaDict (dicts and namespaces), JinjaCallable (macros, globals, bound methods) and Undefined.
// Nothing else ever enters a template, so a template cannot reach .NET objects.

/// <summary>Jinja's default Undefined: falsy, renders as empty, iterates as empty; attribute or item access on it fails.</summary>
internal sealed class Undefined(string name)
{
    public string Name { get; } = name;
}

/// <summary>A dict (insertion-ordered, string keys) or a <c>namespace()</c>, the only object a template may assign attributes on.</summary>
internal sealed class JinjaDict
{
    public JinjaDict(bool isNamespace = false) => IsNamespace = isNamespace;

    public bool IsNamespace { get; }

    public OrderedDictionary<string, object?> Items { get; } = new(StringComparer.Ordinal);

    public object? this[string key]
    {
        set => Items[key] = value;
    }

    public bool TryGet(string key, out object? value) => Items.TryGetValue(key, out value);
}

/// <summary>A tuple: a list that prints with parentheses, as Python shows <c>(1, 2)</c> and dict items.</summary>
internal sealed class JinjaTuple : List<object?>
{
    public JinjaTuple(IEnumerable<object?> items)
        : base(items)
    {
    }
}

internal delegate object? JinjaFunction(List<object?> args, List<(string Name, object? Value)> kwargs, int line);

internal sealed class JinjaCallable(string name, JinjaFunction invoke)
{
    public string Name { get; } = name;

    public JinjaFunction Invoke { get; } = invoke;
}

/// <summary>Python's view of values: truthiness, str(), repr(), equality, ordering and json.dumps.</summary>
internal static class Py
{
    public static bool Truthy(object? value) => value switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        JinjaDict dict => dict.IsNamespace || dict.Items.Count > 0,
        _ => true,
    };

    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        JinjaTuple => "tuple",
        List<object?> => "list",
        JinjaDict { IsNamespace: true } => "Namespace",
        JinjaDict => "dict",
        JinjaCallable => "function",
        _ => value.GetType().Name,
    };

    public static string Str(object? value) => value switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(value),
    };

    public static string Repr(object? value)
    {
        var text = new StringBuilder();
        AppendRepr(text, value);
        return text.ToString();
    }

    private static void AppendRepr(StringBuilder text, object? value)
    {
        switch (value)
        {
            case null:
                text.Append("None");
                break;
            case Undefined:
                break;
            case bool b:
                text.Append(b ? "True" : "False");
                break;
            case long l:
                text.Append(l.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                text.Append(FloatRepr(d));
                break;
            case string s:
                AppendStringRepr(text, s);
                break;
            case List<object?> list:
                bool tuple = list is JinjaTuple;
                text.Append(tuple ? '(' : '[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0)
                    {
                        text.Append(", ");
                    }

                    AppendRepr(text, list[i]);
                }

                text.Append(tuple ? (list.Count == 1 ? ",)" : ")") : "]");
                break;
            case JinjaDict dict:
                text.Append(dict.IsNamespace ? "<Namespace {" : "{");
                bool first = true;
                foreach (var (key, item) in dict.Items)
                {
                    if (!first)
                    {
                        text.Append(", ");
                    }

                    first = false;
                    AppendStringRepr(text, key);
                    text.Append(": ");
                    AppendRepr(text, item);
                }

                text.Append(dict.IsNamespace ? "}>" : "}");
                break;
            case JinjaCallable callable:
                text.Append("<function ").Append(callable.Name).Append('>');
                break;
        }
    }

    private static void AppendStringRepr(StringBuilder text, string s)
    {
        char quote = s.Contains('\'', StringComparison.Ordinal) && !s.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        text.Append(quote);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                default:
                    if (c == quote)
                    {
                        text.Append('\\').Append(c);
                    }
                    else if (c < 0x20 || c == 0x7f)
                    {
                        text.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        text.Append(c);
                    }

                    break;
            }
        }

        text.Append(quote);
    }

    /// <summary>Python's repr of a float: "1.0", "0.1", "1e+16", "inf", "nan".</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d))
        {
            return "nan";
        }

        if (double.IsInfinity(d))
        {
            return d > 0 ? "inf" : "-inf";
        }

        if (d == Math.Floor(d) && Math.Abs(d) < 1e16)
        {
            return d.ToString("F1", CultureInfo.InvariantCulture);
        }

        string r = d.ToString("R", CultureInfo.InvariantCulture);
        int e = r.IndexOf('E', StringComparison.Ordinal);
        if (e < 0)
        {
            return r;
        }

        string mantissa = r[..e];
        string exponent = r[(e + 1)..];
        string sign = exponent.StartsWith('-') ? "-" : "+";
        exponent = exponent.TrimStart('+', '-').TrimStart('0');
        return mantissa + "e" + sign + exponent.PadLeft(2, '0');
    }

    public static bool IsNumber(object? value) => value is long or double or bool;

    public static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidCastException(),
    };

    public static bool ValueEquals(object? a, object? b)
    {
        if (a is Undefined || b is Undefined)
        {
            return a is Undefined && b is Undefined;
        }

        if (a is null || b is null)
        {
            return a is null && b is null;
        }

        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double)
            {
                return ToDouble(a) == ToDouble(b);
            }

            return AsLong(a) == AsLong(b);
        }

        switch (a)
        {
            case string sa:
                return b is string sb && string.Equals(sa, sb, StringComparison.Ordinal);
            case List<object?> la:
                // Python: a tuple never equals a list.
                if (b is not List<object?> lb || la.Count != lb.Count || (la is JinjaTuple) != (lb is JinjaTuple))
                {
                    return false;
                }

                for (int i = 0; i < la.Count; i++)
                {
                    if (!ValueEquals(la[i], lb[i]))
                    {
                        return false;
                    }
                }

                return true;
            case JinjaDict da:
                if (b is not JinjaDict db || da.IsNamespace || db.IsNamespace)
                {
                    return ReferenceEquals(a, b);
                }

                if (da.Items.Count != db.Items.Count)
                {
                    return false;
                }

                foreach (var (key, value) in da.Items)
                {
                    if (!db.TryGet(key, out var other) || !ValueEquals(value, other))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return ReferenceEquals(a, b);
        }
    }

    public static long AsLong(object? value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new InvalidCastException(),
    };

    /// <summary>Python ordering for numbers, strings and lists; null when the types cannot be ordered.</summary>
    public static int? Compare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            return a is double || b is double ? ToDouble(a).CompareTo(ToDouble(b)) : AsLong(a).CompareTo(AsLong(b));
        }

        if (a is string sa && b is string sb)
        {
            return Math.Sign(string.CompareOrdinal(sa, sb));
        }

        if (a is List<object?> la && b is List<object?> lb)
        {
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                if (!ValueEquals(la[i], lb[i]))
                {
                    return Compare(la[i], lb[i]);
                }
            }

            return la.Count.CompareTo(lb.Count);
        }

        return null;
    }

    /// <summary>The number of code points, as Python's len() counts a str.</summary>
    public static int Length(string s)
    {
        int count = 0;
        foreach (var _ in s.EnumerateRunes())
        {
            count++;
        }

        return count;
    }

    public static List<object?> Characters(string s)
    {
        var list = new List<object?>(s.Length);
        foreach (var rune in s.EnumerateRunes())
        {
            list.Add(rune.ToString());
        }

        return list;
    }

    /// <summary>A JSON document as template values: objects keep their key order, integers stay integers.</summary>
    public static object? FromJson(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => DictFromJson(element),
        JsonValueKind.Array => element.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.TryGetInt64(out long l) ? (object)l : element.GetDouble(), // (object) keeps integers long
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    private static JinjaDict DictFromJson(JsonElement element)
    {
        var dict = new JinjaDict();
        foreach (var property in element.EnumerateObject())
        {
            dict[property.Name] = FromJson(property.Value);
        }

        return dict;
    }
}

/// <summary>Python's json.dumps as Hugging Face's tojson calls it: ensure_ascii off, ", " and ": " separators, optional indent.</summary>
internal static class PyJson
{
    public static string Dumps(object? value, int? indent, bool sortKeys, bool ensureAscii, int line)
    {
        var text = new StringBuilder();
        Write(text, value, indent, sortKeys, ensureAscii, 0, line);
        return text.ToString();
    }

    private static void Write(StringBuilder text, object? value, int? indent, bool sortKeys, bool ensureAscii, int depth, int line)
    {
        if (depth > JinjaParser.MaxNesting)
        {
            throw JinjaErrors.Runtime(line, "tojson: the value is nested too deeply");
        }

        switch (value)
        {
            case null or Undefined:
                text.Append("null");
                break;
            case bool b:
                text.Append(b ? "true" : "false");
                break;
            case long l:
                text.Append(l.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                text.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : Py.FloatRepr(d));
                break;
            case string s:
                Tools.PythonJson.WriteString(text, s, ensureAscii);
                break;
            case List<object?> list:
                if (list.Count == 0)
                {
                    text.Append("[]");
                    break;
                }

                text.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    Separator(text, i, indent, depth + 1);
                    Write(text, list[i], indent, sortKeys, ensureAscii, depth + 1, line);
                }

                Close(text, indent, depth);
                text.Append(']');
                break;
            case JinjaDict dict:
                if (dict.Items.Count == 0)
                {
                    text.Append("{}");
                    break;
                }

                text.Append('{');
                IEnumerable<KeyValuePair<string, object?>> entries = sortKeys ? dict.Items.OrderBy(e => e.Key, StringComparer.Ordinal) : dict.Items;
                int n = 0;
                foreach (var (key, item) in entries)
                {
                    Separator(text, n++, indent, depth + 1);
                    Tools.PythonJson.WriteString(text, key, ensureAscii);
                    text.Append(": ");
                    Write(text, item, indent, sortKeys, ensureAscii, depth + 1, line);
                }

                Close(text, indent, depth);
                text.Append('}');
                break;
            default:
                throw JinjaErrors.Runtime(line, $"tojson: a {Py.TypeName(value)} is not JSON serializable");
        }
    }

    private static void Separator(StringBuilder text, int index, int? indent, int depth)
    {
        if (index > 0)
        {
            text.Append(indent is null ? ", " : ",");
        }

        if (indent is int width)
        {
            text.Append('\n').Append(' ', width * depth);
        }
    }

    private static void Close(StringBuilder text, int? indent, int depth)
    {
        if (indent is int width)
        {
            text.Append('\n').Append(' ', width * depth);
        }
    }
}
