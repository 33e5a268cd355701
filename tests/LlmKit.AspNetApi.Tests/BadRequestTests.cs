using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace LlmKit.AspNetApi.Tests;

/// <summary>Invalid requests get OpenAI-style error bodies that name the field and what is allowed.</summary>
[Collection(SharedAppCollection.Name)]
public sealed class BadRequestTests(SharedApp shared)
{
    private const string User = """[{"role":"user","content":"Once upon a time"}]""";

    public static TheoryData<string, string, string?> Invalid => new()
    {
        { "{not json", "invalid_json", null },
        { """{"messages":[]}""", "missing_required_parameter", "messages" },
        { """{"messages":[{"role":"function","content":"x"}]}""", "invalid_value", "messages[0].role" },
        { """{"messages":[{"role":"user"}]}""", "missing_required_parameter", "messages[0].content" },
        { """{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x"}}]}]}""", "unsupported_content", "messages[0].content[0]" },
        { $$"""{"messages":{{User}},"temperature":2.5}""", "invalid_value", "temperature" },
        { $$"""{"messages":{{User}},"temperature":"hot"}""", "invalid_json", "temperature" },
        { $$"""{"messages":{{User}},"top_p":0}""", "invalid_value", "top_p" },
        { $$"""{"messages":{{User}},"max_tokens":0}""", "invalid_value", "max_tokens" },
        { $$"""{"messages":{{User}},"max_completion_tokens":100000}""", "invalid_value", "max_completion_tokens" },
        { $$"""{"messages":{{User}},"n":2}""", "invalid_value", "n" },
        { $$"""{"messages":{{User}},"stop":["a","b","c","d","e"]}""", "invalid_value", "stop" },
        { $$"""{"messages":{{User}},"stop":""}""", "invalid_value", "stop" },
        { $$"""{"messages":{{User}},"presence_penalty":3}""", "invalid_value", "presence_penalty" },
        { $$$"""{"messages":{{{User}}},"tools":[{"type":"retrieval"}]}""", "invalid_value", "tools[0].type" },
        { $$$"""{"messages":{{{User}}},"tools":[{"type":"function","function":{"name":"has space"}}]}""", "invalid_value", "tools[0].function.name" },
        { $$$$"""{"messages":{{{{User}}}},"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}""", "invalid_value", "tool_choice.function.name" },
        { $$$"""{"messages":{{{User}}},"tool_choice":"sometimes"}""", "invalid_value", "tool_choice" },
        { """{"messages":[{"role":"tool","content":"42"}]}""", "missing_required_parameter", "messages[0].tool_call_id" },
        { """{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}""", "invalid_value", "messages[0].tool_calls[0].function.arguments" },
        { $$$"""{"messages":{{{User}}},"response_format":{"type":"xml"}}""", "unsupported_parameter", "response_format" },
        { $$$$"""{"messages":{{{{User}}}},"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}""", "missing_required_parameter", "response_format.json_schema.schema" },

        // JSON nulls where an object, array or string belongs (issue 17): a 400 naming the member, never a crash.
        { "null", "invalid_json", null },
        { """{"model":null}""", "missing_required_parameter", "messages" },
        { """{"model":null,"messages":null}""", "missing_required_parameter", "messages" },
        { """{"messages":[null]}""", "invalid_value", "messages[0]" },
        { """{"messages":[{"role":null,"content":"x"}]}""", "missing_required_parameter", "messages[0].role" },
        { """{"messages":[{"role":"user","content":null}]}""", "missing_required_parameter", "messages[0].content" },
        { """{"messages":[{"role":"user","content":[null]}]}""", "unsupported_content", "messages[0].content[0]" },
        { """{"messages":[{"role":"user","content":[{"type":null,"text":"x"}]}]}""", "unsupported_content", "messages[0].content[0]" },
        { """{"messages":[{"role":"user","content":[{"type":"text","text":null}]}]}""", "unsupported_content", "messages[0].content[0]" },
        { $$"""{"messages":{{User}},"stop":[null]}""", "invalid_value", "stop[0]" },
        { $$$"""{"messages":{{{User}}},"response_format":{"type":null}}""", "invalid_value", "response_format.type" },
        { $$"""{"messages":{{User}},"response_format":"json"}""", "invalid_value", "response_format" },
        { $$$"""{"messages":{{{User}}},"tools":{"type":"function"}}""", "invalid_value", "tools" },
        { $$"""{"messages":{{User}},"stream_options":7}""", "invalid_json", "stream_options" },
    };

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"Once"}],"max_tokens":2,"model":null,"temperature":null,"top_p":null,"stop":null,"seed":null,"stream":null,"stream_options":null,"n":null,"tools":null,"response_format":null}""")]
    [InlineData("""{"messages":[{"role":"user","content":"Once"}],"max_tokens":2,"stream":false,"stream_options":{"include_usage":null},"tools":[],"response_format":{"type":"text"}}""")]
    public async Task NullOptionalMembersMeanNotGiven(string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await shared.App.Http.PostAsync(new Uri("v1/chat/completions", UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(2, json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Theory]
    [MemberData(nameof(Invalid))]
    public async Task InvalidRequestsGet400NamingTheField(string body, string code, string? param)
    {
        var (status, error) = await PostAsync(body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        string message = error.GetProperty("message").GetString()!;
        Assert.True(message.Length > 20, $"the message should explain the problem: '{message}'");
        if (param is not null && code != "invalid_json")
        {
            Assert.Contains(param.Split('[')[0], message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task UnknownModelGets404()
    {
        var (status, error) = await PostAsync($$"""{"model":"gpt-4o","messages":{{User}}}""");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Contains("stories260K", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheOpenAIClientSurfacesTheMessageOfA400()
    {
        var options = new ChatOptions { Temperature = 2.5f, MaxOutputTokens = 4 };
        var ex = await Assert.ThrowsAsync<ClientResultException>(() =>
            shared.App.OpenAIChatClient().GetResponseAsync([new ChatMessage(ChatRole.User, "Once")], options));
        Assert.Equal(400, ex.Status);
        Assert.Contains("temperature must be a number between 0 and 2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PromptOverTheTokenLimitGets400WithTheCount()
    {
        // SharedApp allows 64 prompt tokens; 60 repetitions of " Lily" are well over that in stories260K's 512-token vocabulary.
        string longText = string.Concat(Enumerable.Repeat("Lily went to the park. ", 30));
        var (status, error) = await PostAsync(JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content = longText } } }));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
        Assert.Matches(@"The prompt has \d+ tokens but this server accepts at most 64", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task BodyOverTheSizeLimitGets400()
    {
        // SharedApp's limit is 64 KiB; send 100 KiB.
        string content = new('a', 100 * 1024);
        var (status, error) = await PostAsync(JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content } } }));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("request_too_large", error.GetProperty("code").GetString());
        Assert.Contains("65,536 bytes", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownRouteAnswersInTheErrorShape()
    {
        using var response = await shared.App.Http.PostAsync(new Uri("v1/audio/speech", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("not_found", json.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    private async Task<(HttpStatusCode Status, JsonElement Error)> PostAsync(string body)
    {
        // A client of its own: the server closes a connection whose oversized body it did not read, and a pooled
        // connection shared with another test could be that one ("the response ended prematurely").
        using var http = new HttpClient { BaseAddress = shared.App.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri("v1/chat/completions", UriKind.Relative), content);
        string text = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(text);
        return (response.StatusCode, json.RootElement.GetProperty("error").Clone());
    }
}
