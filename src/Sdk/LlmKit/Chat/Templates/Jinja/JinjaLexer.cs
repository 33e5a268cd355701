using System.Globalization;
using System.Text;

namespace LlmKit.Chat.Templates.Jinja;

internal enum TokenKind
{
    Text,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
}

internal readonly record struct Token(TokenKind Kind, string Value, int Line);

/// <summary>
/// Splits a template into text and tag tokens, applying Hugging Face's environment settings (trim_blocks and
/// lstrip_blocks on) and the <c>-</c>/<c>+</c> whitespace modifiers the way Jinja2's lexer does.
/// </summary>
internal sealed class JinjaLexer
{
    private readonly string _source;
    private readonly List<Token> _tokens = [];
    private int _pos;
    private int _line = 1;
    private int _tagEnd; // just past the last tag's closing delimiter, before trim_blocks ate a newline
    private int _tagEndLine;
    private bool _stripNextText;

    private JinjaLexer(string source) => _source = source;

    public static List<Token> Tokenize(string source)
    {
        var lexer = new JinjaLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    private void Run()
    {
        while (_pos < _source.Length)
        {
            int tagStart = FindTagStart(_pos);
            int textEnd = tagStart < 0 ? _source.Length : tagStart;
            string text = _source[_pos..textEnd];
            char tagKind = tagStart < 0 ? '\0' : _source[tagStart + 1];
            char modifier = tagStart >= 0 && tagStart + 2 < _source.Length ? _source[tagStart + 2] : '\0';

            if (tagStart >= 0 && modifier == '-')
            {
                text = text.TrimEnd();
            }
            else if (tagStart >= 0 && modifier != '+' && tagKind is '%' or '#')
            {
                text = LstripBlock(text, tagStart);
            }

            if (_stripNextText)
            {
                text = text.TrimStart();
                _stripNextText = false;
            }

            EmitText(text, _pos, textEnd);
            if (tagStart < 0)
            {
                break;
            }

            _pos = tagStart + 2 + (modifier is '-' or '+' ? 1 : 0);
            switch (tagKind)
            {
                case '#':
                    LexComment();
                    break;
                case '{':
                    _tokens.Add(new Token(TokenKind.VariableBegin, "{{", _line));
                    LexTagBody("}}", TokenKind.VariableEnd);
                    break;
                default:
                    _tokens.Add(new Token(TokenKind.BlockBegin, "{%", _line));
                    LexTagBody("%}", TokenKind.BlockEnd);
                    if (IsRawBlock())
                    {
                        LexRaw();
                    }

                    break;
            }
        }

        _tokens.Add(new Token(TokenKind.End, "", _line));
    }

    private int FindTagStart(int from)
    {
        int i = from;
        while (true)
        {
            i = _source.IndexOf('{', i);
            if (i < 0 || i + 1 >= _source.Length)
            {
                return -1;
            }

            if (_source[i + 1] is '{' or '%' or '#')
            {
                return i;
            }

            i++;
        }
    }

    // lstrip_blocks: spaces and tabs between the start of a line and a block or comment tag are removed.
    private string LstripBlock(string text, int tagStart)
    {
        int i = tagStart;
        while (i > 0 && _source[i - 1] is ' ' or '\t')
        {
            i--;
        }

        bool atLineStart = i == 0 || _source[i - 1] == '\n';
        int run = tagStart - i;
        return atLineStart && run > 0 && run <= text.Length ? text[..^run] : text;
    }

    private void EmitText(string text, int from, int to)
    {
        if (text.Length > 0)
        {
            _tokens.Add(new Token(TokenKind.Text, text, _line));
        }

        CountLines(from, to);
    }

    private void CountLines(int from, int to)
    {
        for (int i = from; i < to; i++)
        {
            if (_source[i] == '\n')
            {
                _line++;
            }
        }
    }

    private void LexComment()
    {
        int end = _source.IndexOf("#}", _pos, StringComparison.Ordinal);
        if (end < 0)
        {
            throw JinjaErrors.Syntax(_line, "a comment is not closed with '#}'");
        }

        bool strip = end > _pos && _source[end - 1] == '-';
        bool keep = end > _pos && _source[end - 1] == '+';
        CountLines(_pos, end);
        _pos = end + 2;
        AfterBlockEnd(strip, keep);
    }

    private void LexTagBody(string close, TokenKind endKind)
    {
        // As Jinja's lexer: a closing delimiter counts only outside brackets, so "{{ {'a': {'b': 1}} }}" works.
        int brackets = 0;
        while (true)
        {
            SkipSpaces();
            if (_pos >= _source.Length)
            {
                throw JinjaErrors.Syntax(_line, $"a tag is not closed with '{close}'");
            }

            char c = _source[_pos];
            if (brackets == 0 && (c is '-' or '+') && At(_pos + 1, close))
            {
                _pos += 1 + close.Length;
                (_tagEnd, _tagEndLine) = (_pos, _line);
                _tokens.Add(new Token(endKind, close, _line));
                if (endKind == TokenKind.BlockEnd)
                {
                    AfterBlockEnd(strip: c == '-', keep: c == '+');
                }
                else
                {
                    _stripNextText = c == '-';
                }

                return;
            }

            if (brackets == 0 && At(_pos, close))
            {
                _pos += close.Length;
                (_tagEnd, _tagEndLine) = (_pos, _line);
                _tokens.Add(new Token(endKind, close, _line));
                if (endKind == TokenKind.BlockEnd)
                {
                    AfterBlockEnd(strip: false, keep: false);
                }

                return;
            }

            LexExpressionToken();
            var last = _tokens[^1];
            if (last.Kind == TokenKind.Operator)
            {
                brackets += last.Value switch
                {
                    "(" or "[" or "{" => 1,
                    ")" or "]" or "}" when brackets > 0 => -1,
                    _ => 0,
                };
            }
        }
    }

    // trim_blocks: the first newline after a block or comment tag is removed; '-' strips all whitespace instead.
    private void AfterBlockEnd(bool strip, bool keep)
    {
        if (strip)
        {
            _stripNextText = true;
        }
        else if (!keep)
        {
            if (At(_pos, "\r\n"))
            {
                _pos += 2;
                _line++;
            }
            else if (_pos < _source.Length && _source[_pos] == '\n')
            {
                _pos++;
                _line++;
            }
        }
    }

    // {% raw %} is exactly the tokens BlockBegin, Name "raw", BlockEnd.
    private bool IsRawBlock()
    {
        int n = _tokens.Count;
        return n >= 3 && _tokens[n - 2] is { Kind: TokenKind.Name, Value: "raw" } && _tokens[n - 3].Kind == TokenKind.BlockBegin;
    }

    private void LexRaw()
    {
        // Jinja keeps a newline right after {% raw %}: undo trim_blocks for this one tag.
        _tokens.RemoveRange(_tokens.Count - 3, 3);
        (_pos, _line) = (_tagEnd, _tagEndLine);
        int search = _pos;
        while (true)
        {
            int start = _source.IndexOf("{%", search, StringComparison.Ordinal);
            if (start < 0)
            {
                throw JinjaErrors.Syntax(_line, "'raw' is not closed with 'endraw'");
            }

            int p = start + 2;
            bool stripBefore = p < _source.Length && _source[p] == '-';
            if (p < _source.Length && _source[p] is '-' or '+')
            {
                p++;
            }

            while (p < _source.Length && char.IsWhiteSpace(_source[p]))
            {
                p++;
            }

            if (At(p, "endraw"))
            {
                string text = _source[_pos..start];
                if (stripBefore)
                {
                    text = text.TrimEnd();
                }

                if (_stripNextText)
                {
                    text = text.TrimStart();
                    _stripNextText = false;
                }

                EmitText(text, _pos, start);
                _pos = p + "endraw".Length;
                LexTagBodyEndOnly();
                return;
            }

            search = start + 2;
        }
    }

    private void LexTagBodyEndOnly()
    {
        SkipSpaces();
        if (At(_pos, "-%}") || At(_pos, "+%}"))
        {
            char c = _source[_pos];
            _pos += 3;
            AfterBlockEnd(strip: c == '-', keep: c == '+');
        }
        else if (At(_pos, "%}"))
        {
            _pos += 2;
            AfterBlockEnd(strip: false, keep: false);
        }
        else
        {
            throw JinjaErrors.Syntax(_line, "'endraw' must be closed with '%}'");
        }
    }

    private void SkipSpaces()
    {
        while (_pos < _source.Length && char.IsWhiteSpace(_source[_pos]))
        {
            if (_source[_pos] == '\n')
            {
                _line++;
            }

            _pos++;
        }
    }

    private bool At(int index, string text) =>
        index >= 0 && index + text.Length <= _source.Length && string.CompareOrdinal(_source, index, text, 0, text.Length) == 0;

    private static readonly string[] Operators = ["**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"];

    private void LexExpressionToken()
    {
        char c = _source[_pos];
        if (char.IsLetter(c) || c == '_')
        {
            int start = _pos;
            while (_pos < _source.Length && (char.IsLetterOrDigit(_source[_pos]) || _source[_pos] == '_'))
            {
                _pos++;
            }

            _tokens.Add(new Token(TokenKind.Name, _source[start.._pos], _line));
            return;
        }

        if (char.IsAsciiDigit(c))
        {
            LexNumber();
            return;
        }

        if (c is '\'' or '"')
        {
            _tokens.Add(new Token(TokenKind.String, LexString(c), _line));
            return;
        }

        foreach (string op in Operators)
        {
            if (At(_pos, op))
            {
                _pos += op.Length;
                _tokens.Add(new Token(TokenKind.Operator, op, _line));
                return;
            }
        }

        throw JinjaErrors.Syntax(_line, $"unexpected character '{c}'");
    }

    private void LexNumber()
    {
        int start = _pos;
        bool isFloat = false;
        while (_pos < _source.Length && (char.IsAsciiDigit(_source[_pos]) || _source[_pos] == '_'))
        {
            _pos++;
        }

        if (_pos + 1 < _source.Length && _source[_pos] == '.' && char.IsAsciiDigit(_source[_pos + 1]))
        {
            isFloat = true;
            _pos++;
            while (_pos < _source.Length && char.IsAsciiDigit(_source[_pos]))
            {
                _pos++;
            }
        }

        if (_pos < _source.Length && _source[_pos] is 'e' or 'E')
        {
            int save = _pos;
            _pos++;
            if (_pos < _source.Length && _source[_pos] is '+' or '-')
            {
                _pos++;
            }

            if (_pos < _source.Length && char.IsAsciiDigit(_source[_pos]))
            {
                isFloat = true;
                while (_pos < _source.Length && char.IsAsciiDigit(_source[_pos]))
                {
                    _pos++;
                }
            }
            else
            {
                _pos = save;
            }
        }

        string text = _source[start.._pos].Replace("_", "", StringComparison.Ordinal);
        if (!isFloat && !long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            throw JinjaErrors.Syntax(_line, $"integer literal {text} is out of range");
        }

        _tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, text, _line));
    }

    private string LexString(char quote)
    {
        var text = new StringBuilder();
        _pos++;
        while (true)
        {
            if (_pos >= _source.Length)
            {
                throw JinjaErrors.Syntax(_line, "a string literal is not closed");
            }

            char c = _source[_pos++];
            if (c == quote)
            {
                return text.ToString();
            }

            if (c == '\n')
            {
                _line++;
            }

            if (c != '\\' || _pos >= _source.Length)
            {
                text.Append(c);
                continue;
            }

            char e = _source[_pos++];
            switch (e)
            {
                case 'n': text.Append('\n'); break;
                case 't': text.Append('\t'); break;
                case 'r': text.Append('\r'); break;
                case 'b': text.Append('\b'); break;
                case 'f': text.Append('\f'); break;
                case '0': text.Append('\0'); break;
                case '\\': text.Append('\\'); break;
                case '\'': text.Append('\''); break;
                case '"': text.Append('"'); break;
                case '\n': _line++; break;
                case 'u' when _pos + 4 <= _source.Length && ushort.TryParse(_source.AsSpan(_pos, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ushort u):
                    text.Append((char)u);
                    _pos += 4;
                    break;
                case 'x' when _pos + 2 <= _source.Length && byte.TryParse(_source.AsSpan(_pos, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out byte x):
                    text.Append((char)x);
                    _pos += 2;
                    break;
                default:
                    // Python keeps unknown escapes as written.
                    text.Append('\\').Append(e);
                    break;
            }
        }
    }
}
