namespace LlmKit.Chat.Templates.Jinja;

// Statements. Line numbers are kept for error messages.
internal abstract record Node(int Line);

internal sealed record TextNode(int Line, string Text) : Node(Line);

internal sealed record OutputNode(int Line, Expr Value) : Node(Line);

internal sealed record IfNode(int Line, Expr Condition, IReadOnlyList<Node> Then, IReadOnlyList<Node> Else) : Node(Line);

internal sealed record ForNode(int Line, IReadOnlyList<string> Targets, Expr Iterable, Expr? Filter, IReadOnlyList<Node> Body, IReadOnlyList<Node> Else) : Node(Line);

/// <summary><c>set name = value</c>, <c>set a, b = value</c>, or <c>set ns.attr = value</c> (then <see cref="Attribute"/> is set).</summary>
internal sealed record SetNode(int Line, IReadOnlyList<string> Targets, string? Attribute, Expr Value) : Node(Line);

internal sealed record SetBlockNode(int Line, string Target, IReadOnlyList<Node> Body) : Node(Line);

internal sealed record MacroNode(int Line, string Name, IReadOnlyList<string> Parameters, IReadOnlyList<Expr?> Defaults, IReadOnlyList<Node> Body) : Node(Line);

internal sealed record BreakNode(int Line) : Node(Line);

internal sealed record ContinueNode(int Line) : Node(Line);

// Expressions.
internal abstract record Expr(int Line);

internal sealed record LiteralExpr(int Line, object? Value) : Expr(Line);

internal sealed record NameExpr(int Line, string Name) : Expr(Line);

internal sealed record ListExpr(int Line, IReadOnlyList<Expr> Items) : Expr(Line);

internal sealed record TupleExpr(int Line, IReadOnlyList<Expr> Items) : Expr(Line);

internal sealed record DictExpr(int Line, IReadOnlyList<(Expr Key, Expr Value)> Items) : Expr(Line);

internal sealed record AttributeExpr(int Line, Expr Target, string Name) : Expr(Line);

internal sealed record SubscriptExpr(int Line, Expr Target, Expr Index) : Expr(Line);

internal sealed record SliceExpr(int Line, Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr(Line);

internal sealed record CallExpr(int Line, Expr Callee, IReadOnlyList<Expr> Args, IReadOnlyList<(string Name, Expr Value)> Kwargs) : Expr(Line);

internal sealed record FilterExpr(int Line, Expr Target, string Name, IReadOnlyList<Expr> Args, IReadOnlyList<(string Name, Expr Value)> Kwargs) : Expr(Line);

internal sealed record TestExpr(int Line, Expr Target, string Name, IReadOnlyList<Expr> Args, bool Negated) : Expr(Line);

internal sealed record UnaryExpr(int Line, string Op, Expr Operand) : Expr(Line);

internal sealed record BinaryExpr(int Line, string Op, Expr Left, Expr Right) : Expr(Line);

/// <summary>A chained comparison such as <c>a &lt; b &lt;= c</c>.</summary>
internal sealed record CompareExpr(int Line, Expr First, IReadOnlyList<(string Op, Expr Operand)> Rest) : Expr(Line);

internal sealed record ConditionalExpr(int Line, Expr Condition, Expr Then, Expr? Else) : Expr(Line);

internal static class JinjaErrors
{
    public static ChatTemplateException Syntax(int line, string message) =>
        new($"The chat template has a syntax error at line {line}: {message}.");

    public static ChatTemplateException Runtime(int line, string message) =>
        new($"The chat template failed at line {line}: {message}.");
}
