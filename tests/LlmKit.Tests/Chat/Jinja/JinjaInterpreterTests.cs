using LlmKit.Chat.Templates;
using LlmKit.Chat.Templates.Jinja;

namespace LlmKit.Tests.Chat.Jinja;

/// <summary>
/// The Jinja2 subset, feature by feature. Each expected string is what Python's Jinja2 (3.1.6, checked by hand with
/// Hugging Face's environment: ImmutableSandboxedEnvironment, trim_blocks and lstrip_blocks on, loopcontrols, HF's
/// tojson) renders for the template; the reference-rendering tests cover whole templates.
/// </summary>
public class JinjaInterpreterTests
{
    private static string Render(string template, Dictionary<string, object?>? context = null, JinjaLimits? limits = null, TimeProvider? clock = null) =>
        JinjaTemplate.Parse(template).Render(context ?? [], limits, clock);

    private static List<object?> List(params object?[] items) => [.. items];

    private static JinjaDict Dict(params (string Key, object? Value)[] items)
    {
        var dict = new JinjaDict();
        foreach (var (key, value) in items)
        {
            dict[key] = value;
        }

        return dict;
    }

    [Fact]
    public void Loop_variables_follow_jinja()
    {
        Assert.Equal(
            "1/0/3/2/True/False|2/1/2/1/False/False|3/2/1/0/False/True|",
            Render("{% for x in xs %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}|{% endfor %}",
                new() { ["xs"] = List("a", "b", "c") }));
        Assert.Equal("3", Render("{% for x in 'abc' %}{% if loop.last %}{{ loop.length }}{% endif %}{% endfor %}"));
        Assert.Equal("-a-|a-b-|b-c-", Render("{% for x in ['a','b','c'] %}{{ loop.previtem }}-{{ x }}-{% if not loop.last %}|{% endif %}{% endfor %}"));
    }

    [Fact]
    public void For_supports_an_inline_filter_else_break_continue_and_unpacking()
    {
        // loop.index counts the filtered items, as in Jinja.
        Assert.Equal("1:b 2:d ", Render("{% for x in xs if x != 'a' and x != 'c' %}{{ loop.index }}:{{ x }} {% endfor %}", new() { ["xs"] = List("a", "b", "c", "d") }));
        Assert.Equal("empty", Render("{% for x in [] %}{{ x }}{% else %}empty{% endfor %}"));
        Assert.Equal("13", Render("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 3 %}{% break %}{% endif %}{{ i if i != 0 else '' }}{% endfor %}"));
        Assert.Equal("a=1;b=2;", Render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", new() { ["d"] = Dict(("a", 1L), ("b", 2L)) }));
        Assert.Equal("a=1;b=2;", Render("{% for k, v in d | items %}{{ k }}={{ v }};{% endfor %}", new() { ["d"] = Dict(("a", 1L), ("b", 2L)) }));
    }

    [Fact]
    public void Assignments_inside_a_loop_stay_in_the_loop_but_namespace_attributes_escape()
    {
        Assert.Equal("0", Render("{% set n = 0 %}{% for x in [1, 2] %}{% set n = n + x %}{% endfor %}{{ n }}"));
        Assert.Equal("12|0", Render("{% set n = 0 %}{% for x in [1, 2] %}{% set n = n + x %}{{ n }}{% endfor %}|{{ n }}")); // each iteration starts from the outer n
        Assert.Equal("3", Render("{% set ns = namespace(n=0) %}{% for x in [1, 2] %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}"));
        Assert.Equal("yes", Render("{% if true %}{% set a = 'yes' %}{% endif %}{{ a }}"));
    }

    [Fact]
    public void If_elif_else_and_inline_conditionals()
    {
        const string template = "{% if x > 2 %}big{% elif x == 2 %}two{% else %}small{% endif %}";
        Assert.Equal("big", Render(template, new() { ["x"] = 5L }));
        Assert.Equal("two", Render(template, new() { ["x"] = 2L }));
        Assert.Equal("small", Render(template, new() { ["x"] = 1L }));
        Assert.Equal("b", Render("{{ 'a' if false else 'b' }}"));
        Assert.Equal("", Render("{{ 'a' if false }}"));
    }

    [Fact]
    public void Set_blocks_and_macros_with_defaults_and_keywords()
    {
        Assert.Equal("[hi]", Render("{% set x %}hi{% endset %}[{{ x }}]"));
        Assert.Equal("<a|2><b|9>", Render("{% macro tag(name, n=2) %}<{{ name }}|{{ n }}>{% endmacro %}{{ tag('a') }}{{ tag('b', n=9) }}"));
        Assert.Equal("x,y", Render("{% set a, b = ['x', 'y'] %}{{ a }},{{ b }}"));
    }

    [Fact]
    public void Trim_blocks_and_lstrip_blocks_are_on_as_in_hugging_face()
    {
        Assert.Equal("a\nb\n", Render("{% for x in ['a', 'b'] %}\n    {% if true %}\n{{ x }}\n    {% endif %}\n{% endfor %}\n"));
        Assert.Equal("x y", Render("x {# comment #}\ny"));
        Assert.Equal("  z", Render("{%+ if true %}  z{% endif %}"));
    }

    [Fact]
    public void Minus_modifiers_strip_all_whitespace_on_their_side()
    {
        Assert.Equal("ab", Render("a  \n  {{- 'b' }}"));
        Assert.Equal("ab", Render("{{ 'a' -}}  \n\n  b"));
        Assert.Equal("[1][2]", Render("{%- for i in [1, 2] -%}\n  [{{ i }}]\n{%- endfor -%}\n"));
    }

    [Fact]
    public void Literals_and_containers_render_as_python_prints_them()
    {
        Assert.Equal("None True False 3 1.0 3.5 [1, 'a', None] {'k': [True]} ('x' is quoted)",
            Render("{{ none }} {{ true }} {{ False }} {{ 3 }} {{ 1.0 }} {{ 7 / 2 }} {{ [1, 'a', none] }} {{ {'k': [true]} }} ({{ \"'x'\" }} is quoted)"));
        Assert.Equal("ab", Render("{{ 'a' 'b' }}"));
        Assert.Equal("[1, 2] (1, 2) ('x',) False", Render("{{ (1, 2) | list }} {{ (1, 2) }} {{ ('x',) }} {{ (1, 2) == [1, 2] }}"));
    }

    [Fact]
    public void Attributes_and_subscripts_read_dict_keys_and_list_items()
    {
        var context = new Dictionary<string, object?> { ["m"] = Dict(("role", "user"), ("tags", List("a", "b", "c"))) };
        Assert.Equal("user user c a", Render("{{ m.role }} {{ m['role'] }} {{ m.tags[-1] }} {{ m.tags.0 }}", context));
        Assert.Equal("True", Render("{{ m.missing is undefined and m.tags[9] is undefined }}", context));
    }

    [Fact]
    public void Slices_follow_python()
    {
        var context = new Dictionary<string, object?> { ["xs"] = List(1L, 2L, 3L, 4L) };
        Assert.Equal("[4, 3, 2, 1] [2, 3, 4] [1, 2, 3] [3, 4] [1, 3] olleh ell",
            Render("{{ xs[::-1] }} {{ xs[1:] }} {{ xs[:-1] }} {{ xs[-2:] }} {{ xs[::2] }} {{ 'hello'[::-1] }} {{ 'hello'[1:4] }}", context));
    }

    [Fact]
    public void Arithmetic_follows_python()
    {
        Assert.Equal("7 3 10 2.5 2 -3 1 2 8 3.0", Render("{{ 5 + 2 }} {{ 5 - 2 }} {{ 5 * 2 }} {{ 5 / 2 }} {{ 5 // 2 }} {{ -5 // 2 }} {{ -5 % 3 }} {{ 5 % 3 }} {{ 2 ** 3 }} {{ 1.5 * 2 }}"));
        Assert.Equal("a1b abab [1, 2, 3]", Render("{{ 'a' ~ 1 ~ 'b' }} {{ 'ab' * 2 }} {{ [1] + [2, 3] }}"));
        Assert.Throws<ChatTemplateException>(() => Render("{{ 'a' + 1 }}"));
        Assert.Throws<ChatTemplateException>(() => Render("{{ 1 // 0 }}"));
    }

    [Fact]
    public void Comparisons_membership_and_boolean_operators()
    {
        Assert.Equal("True True True False True True", Render("{{ 1 < 2 <= 2 }} {{ 'ab' in 'cabd' }} {{ 2 in [1, 2] }} {{ 'k' not in {'k': 1} }} {{ [1, 2] == [1, 2] }} {{ 1 == 1.0 }}"));
        Assert.Equal("x 0 y", Render("{{ 0 or 'x' }} {{ 0 and 'x' }} {{ 'x' and 'y' }}"));
        Assert.Equal("True", Render("{{ not none is string }}"));
    }

    [Fact]
    public void Tests_with_and_without_arguments()
    {
        var context = new Dictionary<string, object?> { ["d"] = Dict(("a", 1L)), ["s"] = "x", ["n"] = 4L, ["l"] = List() };
        Assert.Equal("True True True True True True True True",
            Render("{{ d is mapping }} {{ s is string }} {{ s is iterable }} {{ l is sequence }} {{ n is number }} {{ n is divisibleby 2 }} {{ n is equalto 4 }} {{ missing is undefined }}", context));
        Assert.Equal("True True False True True", Render("{{ none is none }} {{ n is not none }} {{ d is string }} {{ true is true }} {{ 0 is false or 1 is not false }}", context));
        Assert.Equal("True", Render("{{ s is defined and not (s is none) }}", context));
    }

    [Fact]
    public void String_filters()
    {
        Assert.Equal("[hi] HI hi Hello world Hello World 4", Render("[{{ '  hi \n' | trim }}] {{ 'hi' | upper }} {{ 'HI' | lower }} {{ 'hello WORLD' | capitalize }} {{ 'hello world' | title }} {{ 'héé!' | length }}"));
        Assert.Equal("a-b-c Nonex", Render("{{ 'a b c' | replace(' ', '-') }} {{ none | default('x') }}{{ missing | default('x') }}")); // default replaces only undefined
        Assert.Equal("None", Render("{{ none | default('x') | string }}"));
        Assert.Equal("x", Render("{{ '' | default('x', true) }}"));
        Assert.Equal("42 7 3.5", Render("{{ '42' | int }} {{ 7.9 | int }} {{ '3.5' | float }}"));
    }

    [Fact]
    public void Json_filter_matches_python_json_dumps_as_hugging_face_calls_it()
    {
        var context = new Dictionary<string, object?> { ["v"] = Dict(("b", List(1L, "é\"\n")), ("a", null), ("e", Dict())) };
        Assert.Equal("{\"b\": [1, \"é\\\"\\n\"], \"a\": null, \"e\": {}}", Render("{{ v | tojson }}", context));
        Assert.Equal("{\n  \"b\": [\n    1,\n    \"é\\\"\\n\"\n  ],\n  \"a\": null,\n  \"e\": {}\n}", Render("{{ v | tojson(indent=2) }}", context));
        Assert.Equal("{\"a\": null, \"b\": [1, \"é\\\"\\n\"], \"e\": {}}", Render("{{ v | tojson(sort_keys=true) }}", context));
    }

    [Fact]
    public void Sequence_filters()
    {
        var people = List(Dict(("name", "ann"), ("role", "user")), Dict(("name", "bob"), ("role", "assistant")), Dict(("name", "cy"), ("role", "user")));
        var context = new Dictionary<string, object?> { ["p"] = people, ["d"] = Dict(("b", 2L), ("A", 1L)) };
        Assert.Equal("ann,cy bob ann|bob|cy 3 ann cy", Render(
            "{{ p | selectattr('role', 'equalto', 'user') | map(attribute='name') | join(',') }} {{ (p | rejectattr('role', 'equalto', 'user') | first).name }} "
            + "{{ p | join('|', attribute='name') }} {{ p | length }} {{ (p | first).name }} {{ (p | last).name }}", context));
        Assert.Equal("[('A', 1), ('b', 2)] [1, 2] ['B', 'A']", Render("{{ d | dictsort }} {{ [2, 1, 2] | unique | sort }} {{ d | list | map('upper') | list }}", context));
        Assert.Equal("['x', 'z']", Render("{{ ['x', 'y', 'z'] | reject('equalto', 'y') | list }}"));
        Assert.Equal("a\n  b\n\n  c", Render("{{ 'a\nb\n\nc' | indent(2) }}"));
        Assert.Equal("<b>", Render("{{ '<b>' | safe }}"));
    }

    [Fact]
    public void String_and_dict_methods()
    {
        var context = new Dictionary<string, object?> { ["d"] = Dict(("a", 1L), ("b", 2L)) };
        Assert.Equal("[x] [x  ] [  x] ['a', 'b', 'c'] ['a', 'b c'] True True HELLO Hi There",
            Render("[{{ '  x  '.strip() }}] [{{ '  x  '.lstrip() }}] [{{ '  x  '.rstrip() }}] {{ 'a b  c'.split() }} {{ 'a,b c'.split(',') }} {{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'hello'.upper() }} {{ 'hi there'.title() }}"));
        Assert.Equal("xx\n thought answer", Render("{{ '\\n\\nxx\\n'.lstrip('\\n') }} {{ '<think>thought</think>answer'.split('</think>')[0].replace('<think>', '') }} {{ '<think>thought</think>answer'.split('</think>')[-1] }}"));
        Assert.Equal("['a', 'b'] [1, 2] 2 none [('a', 1), ('b', 2)]", Render("{{ d.keys() | list }} {{ d.values() | list }} {{ d.get('b') }} {{ d.get('z', 'none') }} {{ d.items() | list }}", context));
    }

    [Fact]
    public void Raw_blocks_cycle_and_the_title_filter()
    {
        Assert.Equal("{{ not evaluated }} x", Render("{% raw %}{{ not evaluated }}{% endraw %} x"));
        Assert.Equal("odd even odd ", Render("{% for i in range(3) %}{{ loop.cycle('odd', 'even') }} {% endfor %}"));
        Assert.Equal("They're Here They'Re Here", Render("{{ \"they're here\" | title }} {{ \"they're here\".title() }}")); // the filter and str.title() differ
        Assert.Equal("1 -1 1024", Render("{{ (-1) ** 1000000000000 }} {{ (-1) ** 3 }} {{ 2 ** 10 }}"));
    }

    [Fact]
    public void Raise_exception_carries_the_templates_message()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => Render("{% if true %}{{ raise_exception('Roles must alternate!') }}{% endif %}"));
        Assert.Contains("Roles must alternate!", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Strftime_now_reads_the_injected_clock()
    {
        var clock = new FixedClock(new DateTimeOffset(2024, 7, 26, 9, 5, 0, TimeSpan.Zero));
        Assert.Equal("26 Jul 2024 | 2024-07-26 09:05 | July Friday", Render("{{ strftime_now('%d %b %Y') }} | {{ strftime_now('%Y-%m-%d %H:%M') }} | {{ strftime_now('%B %A') }}", clock: clock));
    }

    [Fact]
    public void Undefined_is_falsy_and_empty_but_reading_into_it_fails()
    {
        Assert.Equal("[] no 0", Render("[{{ nothing }}] {{ 'yes' if nothing else 'no' }} {{ nothing | length }}"));
        Assert.Equal("", Render("{% for x in nothing %}{{ x }}{% endfor %}"));
        var ex = Assert.Throws<ChatTemplateException>(() => Render("{{ nothing.attr }}"));
        Assert.Contains("'nothing' is undefined", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ChatTemplateException>(() => Render("{{ nothing[0] }}"));
        Assert.Throws<ChatTemplateException>(() => Render("{{ nothing() }}"));
        Assert.Equal("True", Render("{{ none.attr is undefined }}"));
    }

    [Fact]
    public void Templates_cannot_reach_dotnet_objects()
    {
        Assert.Equal("[][]", Render("[{{ ''.__class__ }}][{{ messages.GetType }}]", new() { ["messages"] = List() }));
        var ex = Assert.Throws<ChatTemplateException>(() => Render("{{ ''.GetType() }}"));
        Assert.Contains("GetType", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ChatTemplateException>(() => Render("{% set x = [] %}{{ x.append(1) }}"));
    }

    [Fact]
    public void Output_size_is_limited()
    {
        var limits = new JinjaLimits(MaxOutputChars: 100);
        var ex = Assert.Throws<ChatTemplateException>(() => Render("{% for i in range(50) %}abc{% endfor %}", limits: limits));
        Assert.Contains("100 characters", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ChatTemplateException>(() => Render("{{ 'x' * 1000000000 }}", limits: limits)); // refused before it is allocated
    }

    [Fact]
    public void Loop_iterations_are_limited()
    {
        var limits = new JinjaLimits(MaxLoopIterations: 1000);
        var ex = Assert.Throws<ChatTemplateException>(() => Render("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", limits: limits));
        Assert.Contains("1000 loop iterations", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ChatTemplateException>(() => Render("{{ range(2000000000) | length }}", limits: limits));
    }

    [Fact]
    public void Macro_recursion_is_limited()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => Render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", limits: new JinjaLimits(MaxCallDepth: 10)));
        Assert.Contains("deeper than 10", ex.Message, StringComparison.Ordinal);
        Assert.Equal("3", Render("{% macro f(n) %}{% if n < 3 %}{{ f(n + 1) }}{% else %}{{ n }}{% endif %}{% endmacro %}{{ f(0) }}"));
    }

    [Fact]
    public void Nesting_and_source_length_are_limited_when_parsing()
    {
        Assert.Throws<ChatTemplateException>(() => JinjaTemplate.Parse("{{ " + new string('(', 1000) + "1" + new string(')', 1000) + " }}"));
        Assert.Throws<ChatTemplateException>(() => JinjaTemplate.Parse(new string('x', JinjaTemplate.MaxSourceLength + 1)));
    }

    [Theory]
    [InlineData("line 1\n{% if %}", 2)]
    [InlineData("{% for x in xs %}\n\n{{ x }}", 1)]
    [InlineData("a\nb\n{{ 'unclosed }}", 3)]
    [InlineData("{% include 'other.jinja' %}", 1)]
    public void Syntax_errors_name_the_line(string template, int line)
    {
        var ex = Assert.Throws<ChatTemplateException>(() => JinjaTemplate.Parse(template));
        Assert.Contains($"line {line}", ex.Message, StringComparison.Ordinal);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;

        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
    }
}
