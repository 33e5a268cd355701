using System.Globalization;

namespace LlmKit.Chat.Templates.Jinja;

/// <summary>
/// Recursive-descent parser for the Jinja2 subset Hugging Face chat templates use, with Jinja2's operator
/// precedence (filters and tests bind tighter than arithmetic; <c>~</c> sits between <c>+</c> and <c>*</c>).
/// </summary>
internal sealed class JinjaParser
{
    /// <summary>Deeper nesting than this (blocks or parentheses) is refused: it bounds the parser's and evaluator's stack.</summary>
    public const int MaxNesting = 200;

    private static readonly HashSet<string> TestArgStoppers = new(StringComparer.Ordinal) { "else", "or", "and", "if", "is", "in", "not" };

    private readonly List<Token> _tokens;
    private int _pos;
    private int _depth;

    private JinjaParser(List<Token> tokens) => _tokens = tokens;

    public static IReadOnlyList<Node> Parse(string source)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(source));
        var body = parser.ParseBody(out string? end);
        if (end is not null)
        {
            throw JinjaErrors.Syntax(parser.Current.Line, $"unexpected '{end}'");
        }

        return body;
    }

    private Token Current => _tokens[_pos];

    private Token Next() => _tokens[_pos++];

    private bool IsOp(string op) => Current.Kind == TokenKind.Operator && Current.Value == op;

    private bool IsName(string name) => Current.Kind == TokenKind.Name && Current.Value == name;

    private bool SkipOp(string op)
    {
        if (IsOp(op))
        {
            _pos++;
            return true;
        }

        return false;
    }

    private bool SkipName(string name)
    {
        if (IsName(name))
        {
            _pos++;
            return true;
        }

        return false;
    }

    private void ExpectOp(string op)
    {
        if (!SkipOp(op))
        {
            throw JinjaErrors.Syntax(Current.Line, $"expected '{op}' but found '{Describe(Current)}'");
        }
    }

    private string ExpectName()
    {
        if (Current.Kind != TokenKind.Name)
        {
            throw JinjaErrors.Syntax(Current.Line, $"expected a name but found '{Describe(Current)}'");
        }

        return Next().Value;
    }

    private void Expect(TokenKind kind, string what)
    {
        if (Current.Kind != kind)
        {
            throw JinjaErrors.Syntax(Current.Line, $"expected {what} but found '{Describe(Current)}'");
        }

        _pos++;
    }

    private static string Describe(Token token) => token.Kind == TokenKind.End ? "end of template" : token.Value;

    private void Enter(int line)
    {
        if (++_depth > MaxNesting)
        {
            throw JinjaErrors.Syntax(line, $"nesting is deeper than {MaxNesting} levels");
        }
    }

    private void Leave() => _depth--;

    // Parses nodes until a block tag whose name is not a statement starter; returns that name (or null at the end).
    private List<Node> ParseBody(out string? endTag)
    {
        var nodes = new List<Node>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.End:
                    endTag = null;
                    return nodes;
                case TokenKind.Text:
                    _pos++;
                    nodes.Add(new TextNode(token.Line, token.Value));
                    break;
                case TokenKind.VariableBegin:
                    _pos++;
                    var value = ParseExpression();
                    Expect(TokenKind.VariableEnd, "'}}'");
                    nodes.Add(new OutputNode(token.Line, value));
                    break;
                case TokenKind.BlockBegin:
                    _pos++;
                    string name = Current.Kind == TokenKind.Name ? Current.Value : "";
                    var statement = ParseStatement(name, token.Line);
                    if (statement is null)
                    {
                        endTag = name;
                        return nodes;
                    }

                    if (statement is not TextNode { Text.Length: 0 })
                    {
                        nodes.Add(statement);
                    }

                    break;
                default:
                    throw JinjaErrors.Syntax(token.Line, $"unexpected '{token.Value}'");
            }
        }
    }

    // Returns null (without consuming the name) for end/else/elif tags so the caller can close its block.
    private Node? ParseStatement(string name, int line)
    {
        switch (name)
        {
            case "if":
                _pos++;
                return ParseIf(line);
            case "for":
                _pos++;
                return ParseFor(line);
            case "set":
                _pos++;
                return ParseSet(line);
            case "macro":
                _pos++;
                return ParseMacro(line);
            case "break":
                _pos++;
                Expect(TokenKind.BlockEnd, "'%}'");
                return new BreakNode(line);
            case "continue":
                _pos++;
                Expect(TokenKind.BlockEnd, "'%}'");
                return new ContinueNode(line);
            case "generation":
                // Hugging Face's {% generation %} marks assistant text for training masks; it renders its body unchanged.
                _pos++;
                Expect(TokenKind.BlockEnd, "'%}'");
                Enter(line);
                var body = ParseBody(out string? end);
                Leave();
                CloseBlock(end, "endgeneration", line);
                return new IfNode(line, new LiteralExpr(line, true), body, []);
            case "endif" or "else" or "elif" or "endfor" or "endset" or "endmacro" or "endgeneration":
                return null;
            case "":
                throw JinjaErrors.Syntax(line, "a block tag must start with a statement name");
            default:
                throw JinjaErrors.Syntax(line, $"the '{name}' statement is not supported (supported: if, for, set, macro, break, continue, generation)");
        }
    }

    private void CloseBlock(string? end, string expected, int line)
    {
        if (end != expected)
        {
            throw JinjaErrors.Syntax(line, $"the block is not closed with '{expected}'" + (end is null ? "" : $" (found '{end}')"));
        }

        _pos++;
        Expect(TokenKind.BlockEnd, "'%}'");
    }

    private IfNode ParseIf(int line)
    {
        Enter(line);
        var condition = ParseExpression();
        Expect(TokenKind.BlockEnd, "'%}'");
        var then = ParseBody(out string? end);
        IReadOnlyList<Node> otherwise = [];
        if (end == "elif")
        {
            int elifLine = Current.Line;
            _pos++;
            otherwise = [ParseIf(elifLine)];
        }
        else if (end == "else")
        {
            _pos++;
            Expect(TokenKind.BlockEnd, "'%}'");
            otherwise = ParseBody(out end);
            CloseBlock(end, "endif", line);
        }
        else
        {
            CloseBlock(end, "endif", line);
        }

        Leave();
        return new IfNode(line, condition, then, otherwise);
    }

    private ForNode ParseFor(int line)
    {
        Enter(line);
        var targets = new List<string> { ExpectName() };
        while (SkipOp(","))
        {
            targets.Add(ExpectName());
        }

        if (!SkipName("in"))
        {
            throw JinjaErrors.Syntax(line, "expected 'in' in a for statement");
        }

        var iterable = ParseOr(allowConditional: false);
        Expr? filter = null;
        if (SkipName("if"))
        {
            filter = ParseExpression();
        }

        Expect(TokenKind.BlockEnd, "'%}'");
        var body = ParseBody(out string? end);
        IReadOnlyList<Node> otherwise = [];
        if (end == "else")
        {
            _pos++;
            Expect(TokenKind.BlockEnd, "'%}'");
            otherwise = ParseBody(out end);
        }

        CloseBlock(end, "endfor", line);
        Leave();
        return new ForNode(line, targets, iterable, filter, body, otherwise);
    }

    private Node ParseSet(int line)
    {
        string first = ExpectName();
        if (SkipOp("."))
        {
            string attribute = ExpectName();
            ExpectOp("=");
            var value = ParseTupleOrExpression();
            Expect(TokenKind.BlockEnd, "'%}'");
            return new SetNode(line, [first], attribute, value);
        }

        var targets = new List<string> { first };
        while (SkipOp(","))
        {
            targets.Add(ExpectName());
        }

        if (SkipOp("="))
        {
            var value = ParseTupleOrExpression();
            Expect(TokenKind.BlockEnd, "'%}'");
            return new SetNode(line, targets, null, value);
        }

        if (targets.Count != 1)
        {
            throw JinjaErrors.Syntax(line, "a 'set' block assigns exactly one name");
        }

        Expect(TokenKind.BlockEnd, "'%}'");
        Enter(line);
        var body = ParseBody(out string? end);
        Leave();
        CloseBlock(end, "endset", line);
        return new SetBlockNode(line, first, body);
    }

    private MacroNode ParseMacro(int line)
    {
        string name = ExpectName();
        var parameters = new List<string>();
        var defaults = new List<Expr?>();
        ExpectOp("(");
        while (!IsOp(")"))
        {
            parameters.Add(ExpectName());
            defaults.Add(SkipOp("=") ? ParseExpression() : null);
            if (!SkipOp(","))
            {
                break;
            }
        }

        ExpectOp(")");
        Expect(TokenKind.BlockEnd, "'%}'");
        Enter(line);
        var body = ParseBody(out string? end);
        Leave();
        if (end != "endmacro")
        {
            throw JinjaErrors.Syntax(line, "the macro is not closed with 'endmacro'");
        }

        _pos++;
        if (Current.Kind == TokenKind.Name)
        {
            _pos++; // {% endmacro name %}
        }

        Expect(TokenKind.BlockEnd, "'%}'");
        return new MacroNode(line, name, parameters, defaults, body);
    }

    // "a, b" without brackets is a tuple where Jinja allows it (set values).
    private Expr ParseTupleOrExpression()
    {
        int line = Current.Line;
        var first = ParseExpression();
        if (!IsOp(","))
        {
            return first;
        }

        var items = new List<Expr> { first };
        while (SkipOp(",") && !(Current.Kind == TokenKind.BlockEnd))
        {
            items.Add(ParseExpression());
        }

        return new TupleExpr(line, items);
    }

    public Expr ParseExpression() => ParseOr(allowConditional: true);

    private Expr ParseOr(bool allowConditional)
    {
        int line = Current.Line;
        Enter(line);
        var left = ParseAnd();
        while (SkipName("or"))
        {
            left = new BinaryExpr(line, "or", left, ParseAnd());
        }

        if (allowConditional && IsName("if"))
        {
            _pos++;
            var condition = ParseOr(allowConditional: false);
            Expr? otherwise = SkipName("else") ? ParseOr(allowConditional: true) : null;
            left = new ConditionalExpr(line, condition, left, otherwise);
        }

        Leave();
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (IsName("and"))
        {
            int line = Next().Line;
            left = new BinaryExpr(line, "and", left, ParseNot());
        }

        return left;
    }

    private Expr ParseNot()
    {
        if (IsName("not"))
        {
            int line = Next().Line;
            Enter(line);
            var operand = ParseNot();
            Leave();
            return new UnaryExpr(line, "not", operand);
        }

        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        int line = Current.Line;
        var first = ParseMath1();
        List<(string, Expr)>? rest = null;
        while (true)
        {
            string? op = null;
            if (Current.Kind == TokenKind.Operator && Current.Value is "==" or "!=" or "<" or "<=" or ">" or ">=")
            {
                op = Next().Value;
            }
            else if (IsName("in"))
            {
                _pos++;
                op = "in";
            }
            else if (IsName("not") && _tokens[_pos + 1] is { Kind: TokenKind.Name, Value: "in" })
            {
                _pos += 2;
                op = "not in";
            }

            if (op is null)
            {
                break;
            }

            (rest ??= []).Add((op, ParseMath1()));
        }

        return rest is null ? first : new CompareExpr(line, first, rest);
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.Kind == TokenKind.Operator && Current.Value is "+" or "-")
        {
            var token = Next();
            left = new BinaryExpr(token.Line, token.Value, left, ParseConcat());
        }

        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMath2();
        while (IsOp("~"))
        {
            int line = Next().Line;
            left = new BinaryExpr(line, "~", left, ParseMath2());
        }

        return left;
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (Current.Kind == TokenKind.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            var token = Next();
            left = new BinaryExpr(token.Line, token.Value, left, ParsePow());
        }

        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary();
        while (IsOp("**"))
        {
            int line = Next().Line;
            left = new BinaryExpr(line, "**", left, ParseUnary());
        }

        return left;
    }

    // As Jinja: "-x | f" filters the negated value, so filters and tests attach after the sign.
    private Expr ParseUnary(bool withFilters = true)
    {
        Expr node;
        if (Current.Kind == TokenKind.Operator && Current.Value is "-" or "+")
        {
            var token = Next();
            Enter(token.Line);
            node = new UnaryExpr(token.Line, token.Value, ParseUnary(withFilters: false));
            Leave();
        }
        else
        {
            node = ParsePostfix(ParsePrimary());
        }

        return withFilters ? ParseFiltersAndTests(node) : node;
    }

    private Expr ParsePrimary()
    {
        var token = Current;
        switch (token.Kind)
        {
            case TokenKind.String:
                _pos++;
                string text = token.Value;
                while (Current.Kind == TokenKind.String)
                {
                    text += Next().Value; // adjacent literals concatenate
                }

                return new LiteralExpr(token.Line, text);
            case TokenKind.Integer:
                _pos++;
                return new LiteralExpr(token.Line, long.Parse(token.Value, CultureInfo.InvariantCulture));
            case TokenKind.Float:
                _pos++;
                return new LiteralExpr(token.Line, double.Parse(token.Value, CultureInfo.InvariantCulture));
            case TokenKind.Name:
                _pos++;
                return token.Value switch
                {
                    "true" or "True" => new LiteralExpr(token.Line, true),
                    "false" or "False" => new LiteralExpr(token.Line, false),
                    "none" or "None" => new LiteralExpr(token.Line, null),
                    _ => new NameExpr(token.Line, token.Value),
                };
            case TokenKind.Operator when token.Value == "(":
                _pos++;
                Enter(token.Line);
                Expr result;
                if (SkipOp(")"))
                {
                    result = new TupleExpr(token.Line, []);
                }
                else
                {
                    var first = ParseExpression();
                    if (IsOp(","))
                    {
                        var items = new List<Expr> { first };
                        while (SkipOp(",") && !IsOp(")"))
                        {
                            items.Add(ParseExpression());
                        }

                        result = new TupleExpr(token.Line, items);
                    }
                    else
                    {
                        result = first;
                    }

                    ExpectOp(")");
                }

                Leave();
                return result;
            case TokenKind.Operator when token.Value == "[":
                _pos++;
                Enter(token.Line);
                var list = new List<Expr>();
                while (!IsOp("]"))
                {
                    list.Add(ParseExpression());
                    if (!SkipOp(","))
                    {
                        break;
                    }
                }

                ExpectOp("]");
                Leave();
                return new ListExpr(token.Line, list);
            case TokenKind.Operator when token.Value == "{":
                _pos++;
                Enter(token.Line);
                var pairs = new List<(Expr, Expr)>();
                while (!IsOp("}"))
                {
                    var key = ParseExpression();
                    ExpectOp(":");
                    pairs.Add((key, ParseExpression()));
                    if (!SkipOp(","))
                    {
                        break;
                    }
                }

                ExpectOp("}");
                Leave();
                return new DictExpr(token.Line, pairs);
            default:
                throw JinjaErrors.Syntax(token.Line, $"unexpected '{Describe(token)}'");
        }
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var token = Current;
            if (IsOp("."))
            {
                _pos++;
                if (Current.Kind == TokenKind.Integer)
                {
                    node = new SubscriptExpr(token.Line, node, new LiteralExpr(token.Line, long.Parse(Next().Value, CultureInfo.InvariantCulture)));
                }
                else
                {
                    node = new AttributeExpr(token.Line, node, ExpectName());
                }
            }
            else if (IsOp("["))
            {
                _pos++;
                node = ParseSubscript(node, token.Line);
            }
            else if (IsOp("("))
            {
                _pos++;
                var (args, kwargs) = ParseCallArguments();
                node = new CallExpr(token.Line, node, args, kwargs);
            }
            else
            {
                return node;
            }
        }
    }

    private Expr ParseSubscript(Expr target, int line)
    {
        Enter(line);
        Expr? start = IsOp(":") ? null : ParseExpression();
        if (start is not null && SkipOp("]"))
        {
            Leave();
            return new SubscriptExpr(line, target, start);
        }

        ExpectOp(":");
        Expr? stop = IsOp(":") || IsOp("]") ? null : ParseExpression();
        Expr? step = null;
        if (SkipOp(":") && !IsOp("]"))
        {
            step = ParseExpression();
        }

        ExpectOp("]");
        Leave();
        return new SliceExpr(line, target, start, stop, step);
    }

    private (List<Expr> Args, List<(string, Expr)> Kwargs) ParseCallArguments()
    {
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        while (!IsOp(")"))
        {
            if (Current.Kind == TokenKind.Name && _tokens[_pos + 1] is { Kind: TokenKind.Operator, Value: "=" })
            {
                string name = Next().Value;
                _pos++;
                kwargs.Add((name, ParseExpression()));
            }
            else
            {
                if (kwargs.Count > 0)
                {
                    throw JinjaErrors.Syntax(Current.Line, "a positional argument follows a keyword argument");
                }

                args.Add(ParseExpression());
            }

            if (!SkipOp(","))
            {
                break;
            }
        }

        ExpectOp(")");
        return (args, kwargs);
    }

    private Expr ParseFiltersAndTests(Expr node)
    {
        while (true)
        {
            if (IsOp("|"))
            {
                int line = Next().Line;
                string name = ExpectName();
                List<Expr> args = [];
                List<(string, Expr)> kwargs = [];
                if (SkipOp("("))
                {
                    (args, kwargs) = ParseCallArguments();
                }

                node = new FilterExpr(line, node, name, args, kwargs);
            }
            else if (IsName("is"))
            {
                int line = Next().Line;
                bool negated = SkipName("not");
                string name = ExpectName();
                List<Expr> args = [];
                if (SkipOp("("))
                {
                    (args, var kwargs) = ParseCallArguments();
                    if (kwargs.Count > 0)
                    {
                        throw JinjaErrors.Syntax(line, $"the '{name}' test takes no keyword arguments");
                    }
                }
                else if (StartsTestArgument())
                {
                    args = [ParsePostfix(ParsePrimary())];
                }

                node = new TestExpr(line, node, name, args, negated);
            }
            else
            {
                return node;
            }
        }
    }

    private bool StartsTestArgument() => Current.Kind switch
    {
        TokenKind.String or TokenKind.Integer or TokenKind.Float => true,
        TokenKind.Name => !TestArgStoppers.Contains(Current.Value),
        TokenKind.Operator => Current.Value is "[" or "{",
        _ => false,
    };
}
