using System.Runtime.CompilerServices;
using System.Text;

namespace LlmKit.Chat.Templates.Jinja;

/// <summary>Bounds on one rendering, so a template from an untrusted model folder cannot run away.</summary>
/// <param name="MaxOutputChars">Characters the rendering may produce (output and captured blocks together).</param>
/// <param name="MaxLoopIterations">Loop iterations (and range() items) the rendering may run in total.</param>
/// <param name="MaxCallDepth">Nested macro calls.</param>
internal sealed record JinjaLimits(int MaxOutputChars = 16 * 1024 * 1024, int MaxLoopIterations = 1_000_000, int MaxCallDepth = 32)
{
    public static JinjaLimits Default { get; } = new();
}

internal sealed class Scope(Scope? parent)
{
    private readonly Dictionary<string, object?> _vars = new(StringComparer.Ordinal);

    public Scope? Parent { get; } = parent;

    public bool TryGet(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
        {
            if (scope._vars.TryGetValue(name, out value))
            {
                return true;
            }
        }

        value = null;
        return false;
    }

    public void Set(string name, object? value) => _vars[name] = value;
}

/// <summary>Executes a parsed template once. Not thread-safe; each rendering makes its own.</summary>
internal sealed partial class JinjaRenderer
{
    private enum Flow
    {
        Normal,
        Break,
        Continue,
    }

    private readonly JinjaLimits _limits;
    private readonly TimeProvider _clock;
    private long _charsProduced;
    private long _iterations;
    private int _callDepth;

    public JinjaRenderer(JinjaLimits limits, TimeProvider clock)
    {
        _limits = limits;
        _clock = clock;
    }

    public string Render(IReadOnlyList<Node> template, IReadOnlyDictionary<string, object?> context)
    {
        var globals = new Scope(null);
        foreach (var (name, value) in Globals())
        {
            globals.Set(name, value);
        }

        var root = new Scope(globals);
        foreach (var (name, value) in context)
        {
            root.Set(name, value);
        }

        var output = new StringBuilder();
        if (Execute(template, root, output) != Flow.Normal)
        {
            throw JinjaErrors.Runtime(0, "'break' or 'continue' outside a loop");
        }

        return output.ToString();
    }

    private void Append(StringBuilder output, string text, int line)
    {
        _charsProduced += text.Length;
        if (_charsProduced > _limits.MaxOutputChars)
        {
            throw JinjaErrors.Runtime(line, $"the output exceeds the limit of {_limits.MaxOutputChars} characters");
        }

        output.Append(text);
    }

    private void CountIterations(long count, int line)
    {
        _iterations += count;
        if (_iterations > _limits.MaxLoopIterations)
        {
            throw JinjaErrors.Runtime(line, $"the template runs more than {_limits.MaxLoopIterations} loop iterations");
        }
    }

    private void CheckSize(long chars, int line)
    {
        if (chars > _limits.MaxOutputChars)
        {
            throw JinjaErrors.Runtime(line, $"a value would exceed the limit of {_limits.MaxOutputChars} characters");
        }
    }

    private Flow Execute(IReadOnlyList<Node> nodes, Scope scope, StringBuilder output)
    {
        foreach (var node in nodes)
        {
            var flow = Execute(node, scope, output);
            if (flow != Flow.Normal)
            {
                return flow;
            }
        }

        return Flow.Normal;
    }

    private Flow Execute(Node node, Scope scope, StringBuilder output)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        switch (node)
        {
            case TextNode text:
                Append(output, text.Text, text.Line);
                return Flow.Normal;
            case OutputNode o:
                Append(output, Py.Str(Evaluate(o.Value, scope)), o.Line);
                return Flow.Normal;
            case IfNode i:
                return Execute(Py.Truthy(Evaluate(i.Condition, scope)) ? i.Then : i.Else, scope, output);
            case ForNode f:
                return ExecuteFor(f, scope, output);
            case SetNode s:
                ExecuteSet(s, scope);
                return Flow.Normal;
            case SetBlockNode b:
                var captured = new StringBuilder();
                Execute(b.Body, scope, captured);
                scope.Set(b.Target, captured.ToString());
                return Flow.Normal;
            case MacroNode m:
                scope.Set(m.Name, MakeMacro(m, scope));
                return Flow.Normal;
            case BreakNode:
                return Flow.Break;
            case ContinueNode:
                return Flow.Continue;
            default:
                throw JinjaErrors.Runtime(node.Line, $"unknown statement {node.GetType().Name}");
        }
    }

    private void ExecuteSet(SetNode set, Scope scope)
    {
        object? value = Evaluate(set.Value, scope);
        if (set.Attribute is not null)
        {
            if (!scope.TryGet(set.Targets[0], out var target) || target is not JinjaDict { IsNamespace: true } ns)
            {
                throw JinjaErrors.Runtime(set.Line, $"cannot assign attribute '{set.Attribute}' on '{set.Targets[0]}': only namespace() objects take attributes");
            }

            ns[set.Attribute] = value;
            return;
        }

        Bind(set.Targets, set.Line, scope, value);
    }

    private static List<object?> Unpack(object? value, int count, int line)
    {
        if (value is not List<object?> items || items.Count != count)
        {
            throw JinjaErrors.Runtime(line, $"cannot unpack a {Py.TypeName(value)} into {count} names");
        }

        return items;
    }

    private Flow ExecuteFor(ForNode node, Scope scope, StringBuilder output)
    {
        var source = Iterate(Evaluate(node.Iterable, scope), node.Line);
        List<object?> items;
        if (node.Filter is null)
        {
            items = source;
        }
        else
        {
            items = [];
            foreach (var item in source)
            {
                CountIterations(1, node.Line);
                var filterScope = new Scope(scope);
                Bind(node, filterScope, item);
                if (Py.Truthy(Evaluate(node.Filter, filterScope)))
                {
                    items.Add(item);
                }
            }
        }

        if (items.Count == 0)
        {
            return Execute(node.Else, scope, output);
        }

        for (int i = 0; i < items.Count; i++)
        {
            CountIterations(1, node.Line);
            var iteration = new Scope(scope);
            Bind(node, iteration, items[i]);
            iteration.Set("loop", LoopObject(items, i));
            var flow = Execute(node.Body, iteration, output);
            if (flow == Flow.Break)
            {
                break;
            }
        }

        return Flow.Normal;
    }

    private static void Bind(ForNode node, Scope scope, object? item) => Bind(node.Targets, node.Line, scope, item);

    // One target takes the value; several unpack a list of that length (`set a, b = ...`, `for k, v in ...`).
    private static void Bind(IReadOnlyList<string> targets, int line, Scope scope, object? value)
    {
        if (targets.Count == 1)
        {
            scope.Set(targets[0], value);
            return;
        }

        var parts = Unpack(value, targets.Count, line);
        for (int i = 0; i < parts.Count; i++)
        {
            scope.Set(targets[i], parts[i]);
        }
    }

    private static JinjaDict LoopObject(List<object?> items, int i)
    {
        var loop = new JinjaDict
        {
            ["index"] = (long)(i + 1),
            ["index0"] = (long)i,
            ["revindex"] = (long)(items.Count - i),
            ["revindex0"] = (long)(items.Count - i - 1),
            ["first"] = i == 0,
            ["last"] = i == items.Count - 1,
            ["length"] = (long)items.Count,
            ["depth"] = 1L,
            ["depth0"] = 0L,
            ["previtem"] = i > 0 ? items[i - 1] : new Undefined("previtem"),
            ["nextitem"] = i + 1 < items.Count ? items[i + 1] : new Undefined("nextitem"),
        };
        loop["cycle"] = new JinjaCallable("cycle", (args, _, line) =>
            args.Count == 0 ? throw JinjaErrors.Runtime(line, "loop.cycle needs at least one value") : args[i % args.Count]);
        return loop;
    }

    /// <summary>The items a for loop (or a filter) walks: list items, dict keys, string characters; Undefined is empty.</summary>
    public static List<object?> Iterate(object? value, int line) => value switch
    {
        List<object?> list => list,
        JinjaDict dict => dict.Items.Keys.Cast<object?>().ToList(),
        string s => Py.Characters(s),
        Undefined => [],
        _ => throw JinjaErrors.Runtime(line, $"a {Py.TypeName(value)} is not iterable"),
    };

    private JinjaCallable MakeMacro(MacroNode macro, Scope definition) => new(macro.Name, (args, kwargs, line) =>
    {
        if (args.Count > macro.Parameters.Count)
        {
            throw JinjaErrors.Runtime(line, $"macro '{macro.Name}' takes {macro.Parameters.Count} arguments but got {args.Count}");
        }

        if (++_callDepth > _limits.MaxCallDepth)
        {
            throw JinjaErrors.Runtime(line, $"macro calls nest deeper than {_limits.MaxCallDepth}");
        }

        try
        {
            var scope = new Scope(definition);
            for (int i = 0; i < macro.Parameters.Count; i++)
            {
                string name = macro.Parameters[i];
                object? value = i < args.Count ? args[i]
                    : macro.Defaults[i] is { } fallback ? Evaluate(fallback, scope)
                    : new Undefined(name);
                scope.Set(name, value);
            }

            foreach (var (name, value) in kwargs)
            {
                if (!macro.Parameters.Contains(name))
                {
                    throw JinjaErrors.Runtime(line, $"macro '{macro.Name}' has no parameter '{name}'");
                }

                scope.Set(name, value);
            }

            var output = new StringBuilder();
            Execute(macro.Body, scope, output);
            return output.ToString();
        }
        finally
        {
            _callDepth--;
        }
    });

    private object? Evaluate(Expr expr, Scope scope)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        switch (expr)
        {
            case LiteralExpr literal:
                return literal.Value;
            case NameExpr name:
                return scope.TryGet(name.Name, out var value) ? value : new Undefined(name.Name);
            case ListExpr list:
                return list.Items.Select(item => Evaluate(item, scope)).ToList();
            case TupleExpr tuple:
                return new JinjaTuple(tuple.Items.Select(item => Evaluate(item, scope)));
            case DictExpr dict:
                var result = new JinjaDict();
                foreach (var (keyExpr, valueExpr) in dict.Items)
                {
                    if (Evaluate(keyExpr, scope) is not string key)
                    {
                        throw JinjaErrors.Runtime(dict.Line, "dict keys must be strings");
                    }

                    result[key] = Evaluate(valueExpr, scope);
                }

                return result;
            case AttributeExpr attribute:
                return GetAttribute(Evaluate(attribute.Target, scope), attribute.Name, attribute.Line);
            case SubscriptExpr subscript:
                return GetItem(Evaluate(subscript.Target, scope), Evaluate(subscript.Index, scope), subscript.Line);
            case SliceExpr slice:
                return Slice(slice, scope);
            case CallExpr call:
                return Call(call, scope);
            case FilterExpr filter:
                return ApplyFilter(filter, scope);
            case TestExpr test:
                bool passed = ApplyTest(test.Name, Evaluate(test.Target, scope), test.Args.Select(a => Evaluate(a, scope)).ToList(), test.Line);
                return passed != test.Negated;
            case UnaryExpr unary:
                return Unary(unary, scope);
            case BinaryExpr binary:
                return Binary(binary, scope);
            case CompareExpr compare:
                return Compare(compare, scope);
            case ConditionalExpr conditional:
                return Py.Truthy(Evaluate(conditional.Condition, scope))
                    ? Evaluate(conditional.Then, scope)
                    : conditional.Else is null ? new Undefined("else") : Evaluate(conditional.Else, scope);
            default:
                throw JinjaErrors.Runtime(expr.Line, $"unknown expression {expr.GetType().Name}");
        }
    }

    private object? Call(CallExpr call, Scope scope)
    {
        object? callee = Evaluate(call.Callee, scope);
        if (callee is not JinjaCallable function)
        {
            string what = call.Callee switch
            {
                NameExpr n => n.Name,
                AttributeExpr a => a.Name,
                _ => Py.TypeName(callee),
            };
            throw JinjaErrors.Runtime(call.Line, callee is Undefined ? $"'{what}' is undefined" : $"'{what}' is not callable");
        }

        var args = call.Args.Select(a => Evaluate(a, scope)).ToList();
        var kwargs = call.Kwargs.Select(k => (k.Name, Evaluate(k.Value, scope))).ToList();
        return function.Invoke(args, kwargs, call.Line);
    }

    private static object? GetAttribute(object? target, string name, int line)
    {
        switch (target)
        {
            case Undefined u:
                throw JinjaErrors.Runtime(line, $"'{u.Name}' is undefined (reading its attribute '{name}')");
            case JinjaDict dict when !dict.IsNamespace && BuiltinMethods.DictMethod(dict, name) is { } method:
                return method;
            case JinjaDict dict:
                return dict.TryGet(name, out var value) ? value : new Undefined(name);
            case string s:
                return BuiltinMethods.StringMethod(s, name) ?? (object)new Undefined(name);
            default:
                return new Undefined(name);
        }
    }

    private static object? GetItem(object? target, object? key, int line)
    {
        switch (target)
        {
            case Undefined u:
                throw JinjaErrors.Runtime(line, $"'{u.Name}' is undefined (reading its item {Py.Repr(key)})");
            case JinjaDict dict when key is string name:
                if (dict.TryGet(name, out var value))
                {
                    return value;
                }

                return dict.IsNamespace ? new Undefined(name) : BuiltinMethods.DictMethod(dict, name) ?? (object)new Undefined(name);
            case List<object?> list when key is long or bool:
                long index = Py.AsLong(key);
                if (index < 0)
                {
                    index += list.Count;
                }

                return index >= 0 && index < list.Count ? list[(int)index] : new Undefined($"[{Py.AsLong(key)}]");
            case string s when key is long or bool:
                var chars = Py.Characters(s);
                long i = Py.AsLong(key);
                if (i < 0)
                {
                    i += chars.Count;
                }

                return i >= 0 && i < chars.Count ? chars[(int)i] : new Undefined($"[{Py.AsLong(key)}]");
            case string s when key is string name:
                return BuiltinMethods.StringMethod(s, name) ?? (object)new Undefined(name);
            default:
                return new Undefined(key is string k ? k : Py.Repr(key));
        }
    }

    private object? Slice(SliceExpr slice, Scope scope)
    {
        object? target = Evaluate(slice.Target, scope);
        long? start = SliceBound(slice.Start, scope, slice.Line);
        long? stop = SliceBound(slice.Stop, scope, slice.Line);
        long step = SliceBound(slice.Step, scope, slice.Line) ?? 1;
        if (step == 0)
        {
            throw JinjaErrors.Runtime(slice.Line, "slice step cannot be zero");
        }

        List<object?> items = target switch
        {
            List<object?> list => list,
            string s => Py.Characters(s),
            Undefined u => throw JinjaErrors.Runtime(slice.Line, $"'{u.Name}' is undefined (slicing it)"),
            _ => throw JinjaErrors.Runtime(slice.Line, $"a {Py.TypeName(target)} cannot be sliced"),
        };

        var result = new List<object?>();
        long n = items.Count;
        if (step > 0)
        {
            long from = Clamp(start ?? 0, n, 0, n);
            long to = Clamp(stop ?? n, n, 0, n);
            for (long i = from; i < to; i += step)
            {
                result.Add(items[(int)i]);
            }
        }
        else
        {
            long from = Clamp(start ?? n - 1, n, -1, n - 1);
            long to = stop is null ? -1 : Clamp(stop.Value, n, -1, n - 1);
            for (long i = from; i > to; i += step)
            {
                result.Add(items[(int)i]);
            }
        }

        return target is string ? string.Concat(result.Cast<string>()) : result;
    }

    // Python's slice index normalisation: negative counts from the end, then clamp.
    private static long Clamp(long index, long length, long low, long high)
    {
        if (index < 0)
        {
            index += length;
        }

        return Math.Min(Math.Max(index, low), high);
    }

    private long? SliceBound(Expr? expr, Scope scope, int line)
    {
        if (expr is null)
        {
            return null;
        }

        return Evaluate(expr, scope) switch
        {
            null => null,
            long l => l,
            bool b => b ? 1 : 0,
            var other => throw JinjaErrors.Runtime(line, $"slice indices must be integers, not {Py.TypeName(other)}"),
        };
    }

    private object? Unary(UnaryExpr unary, Scope scope)
    {
        object? operand = Evaluate(unary.Operand, scope);
        return unary.Op switch
        {
            "not" => !Py.Truthy(operand),
            "-" when operand is long l => checked(-l),
            "-" when operand is double d => -d,
            "-" when operand is bool b => b ? -1L : 0L,
            "+" when Py.IsNumber(operand) => operand is bool b ? (b ? 1L : 0L) : operand,
            _ => throw JinjaErrors.Runtime(unary.Line, $"bad operand type for unary {unary.Op}: {Py.TypeName(operand)}"),
        };
    }

    private object? Binary(BinaryExpr binary, Scope scope)
    {
        object? left = Evaluate(binary.Left, scope);
        switch (binary.Op)
        {
            case "and":
                return Py.Truthy(left) ? Evaluate(binary.Right, scope) : left;
            case "or":
                return Py.Truthy(left) ? left : Evaluate(binary.Right, scope);
        }

        object? right = Evaluate(binary.Right, scope);
        if (binary.Op == "~")
        {
            string a = Py.Str(left);
            string b = Py.Str(right);
            CheckSize((long)a.Length + b.Length, binary.Line);
            return a + b;
        }

        if (left is Undefined || right is Undefined)
        {
            string name = left is Undefined u ? u.Name : ((Undefined)right!).Name;
            throw JinjaErrors.Runtime(binary.Line, $"'{name}' is undefined (used with '{binary.Op}')");
        }

        try
        {
            return Arithmetic(binary.Op, left, right, binary.Line);
        }
        catch (OverflowException)
        {
            throw JinjaErrors.Runtime(binary.Line, $"integer overflow in '{binary.Op}'");
        }
    }

    private object? Arithmetic(string op, object? left, object? right, int line)
    {
        if (Py.IsNumber(left) && Py.IsNumber(right))
        {
            bool floats = left is double || right is double || op is "/";
            if (floats || (op == "**" && Py.AsLong(right) < 0))
            {
                double a = Py.ToDouble(left), b = Py.ToDouble(right);
                return op switch
                {
                    "+" => a + b,
                    "-" => a - b,
                    "*" => a * b,
                    "/" => b == 0 ? throw JinjaErrors.Runtime(line, "division by zero") : a / b,
                    "//" => b == 0 ? throw JinjaErrors.Runtime(line, "division by zero") : Math.Floor(a / b),
                    "%" => b == 0 ? throw JinjaErrors.Runtime(line, "modulo by zero") : a - (b * Math.Floor(a / b)),
                    "**" => Math.Pow(a, b),
                    _ => throw JinjaErrors.Runtime(line, $"unknown operator {op}"),
                };
            }

            long x = Py.AsLong(left), y = Py.AsLong(right);
            return op switch
            {
                "+" => checked(x + y),
                "-" => checked(x - y),
                "*" => checked(x * y),
                "//" => y == 0 ? throw JinjaErrors.Runtime(line, "division by zero") : FloorDiv(x, y),
                "%" => y == 0 ? throw JinjaErrors.Runtime(line, "modulo by zero") : x - (y * FloorDiv(x, y)),
                "**" => IntPow(x, y),
                _ => throw JinjaErrors.Runtime(line, $"unknown operator {op}"),
            };
        }

        switch (op)
        {
            case "+" when left is string a && right is string b:
                CheckSize((long)a.Length + b.Length, line);
                return a + b;
            case "+" when left is List<object?> a && right is List<object?> b:
                CountIterations(a.Count + b.Count, line);
                return new List<object?>([.. a, .. b]);
            case "*" when (left is string && right is long) || (left is long && right is string):
                string text = left as string ?? (string)right!;
                long times = Math.Max(0, left is long l ? l : (long)right!);
                CheckSize(text.Length * times, line);
                return new StringBuilder().Insert(0, text, (int)times).ToString();
            case "*" when (left is List<object?> && right is long) || (left is long && right is List<object?>):
                var list = left as List<object?> ?? (List<object?>)right!;
                long count = Math.Max(0, left is long n ? n : (long)right!);
                CountIterations(list.Count * count, line);
                var repeated = new List<object?>();
                for (long i = 0; i < count; i++)
                {
                    repeated.AddRange(list);
                }

                return repeated;
        }

        throw JinjaErrors.Runtime(line, $"unsupported operand types for {op}: {Py.TypeName(left)} and {Py.TypeName(right)}");
    }

    private static long FloorDiv(long x, long y)
    {
        long q = x / y;
        return (x % y != 0) && ((x < 0) != (y < 0)) ? q - 1 : q;
    }

    private static long IntPow(long x, long y)
    {
        // |x| <= 1 never overflows, so the loop below would not stop early: answer directly.
        if (x is 0 or 1 or -1)
        {
            return y == 0 ? 1 : x == -1 ? (y % 2 == 0 ? 1 : -1) : x;
        }

        long result = 1;
        for (long i = 0; i < y; i++)
        {
            result = checked(result * x); // |x| >= 2 overflows within 63 steps
        }

        return result;
    }

    private object Compare(CompareExpr compare, Scope scope)
    {
        object? left = Evaluate(compare.First, scope);
        foreach (var (op, operandExpr) in compare.Rest)
        {
            object? right = Evaluate(operandExpr, scope);
            if (!CompareOnce(op, left, right, compare.Line))
            {
                return false;
            }

            left = right;
        }

        return true;
    }

    private static bool CompareOnce(string op, object? left, object? right, int line)
    {
        switch (op)
        {
            case "==":
                return Py.ValueEquals(left, right);
            case "!=":
                return !Py.ValueEquals(left, right);
            case "in":
                return Contains(right, left, line);
            case "not in":
                return !Contains(right, left, line);
        }

        int order = Py.Compare(left, right)
            ?? throw JinjaErrors.Runtime(line, $"'{op}' is not supported between {Py.TypeName(left)} and {Py.TypeName(right)}");
        return op switch
        {
            "<" => order < 0,
            "<=" => order <= 0,
            ">" => order > 0,
            _ => order >= 0,
        };
    }

    public static bool Contains(object? container, object? item, int line) => container switch
    {
        string s when item is string sub => s.Contains(sub, StringComparison.Ordinal),
        string => throw JinjaErrors.Runtime(line, $"'in <string>' requires a string, not {Py.TypeName(item)}"),
        List<object?> list => list.Any(x => Py.ValueEquals(x, item)),
        JinjaDict dict => item is string key && dict.Items.ContainsKey(key),
        Undefined => false,
        _ => throw JinjaErrors.Runtime(line, $"a {Py.TypeName(container)} is not a container"),
    };
}
