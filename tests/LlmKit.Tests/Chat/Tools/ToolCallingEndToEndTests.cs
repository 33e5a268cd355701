using System.Text.Json;
using System.Text.Json.Nodes;
using LlmKit.Chat;
using LlmKit.Chat.Tools;
using LlmKit.Models;
using LlmKit.Testing;
using LlmKit.Tests.Generation.Constraints;
using Microsoft.Extensions.AI;
using Validator = Json.Schema.JsonSchema;

namespace LlmKit.Tests.Chat.Tools;

/// <summary>
/// Tool calling end to end on the real stories260K model (no chat template: LlmKit's generic form). A tiny base model
/// never writes a call on its own; constrained decoding makes every required call well formed, so what is checked is
/// the whole path: the call is decoded under the tool's schema, parsed into FunctionCallContent, invoked by M.E.AI's
/// FunctionInvokingChatClient, its result rendered back as a tool message, and the next round answers in text.
/// Every argument object is checked by an independent validator (JsonSchema.Net).
/// </summary>
public class ToolCallingEndToEndTests
{
    /// <summary>
    /// An enum and a bounded integer, both required. Kept short: stories260K's context is 512 tokens and its 512-piece
    /// vocabulary spends about one token per character of JSON, while the second round's prompt holds the tool list,
    /// the call and its result.
    /// </summary>
    internal const string WeatherSchema =
        """{"type":"object","properties":{"city":{"enum":["Paris","Oslo"]},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"]}""";

    private const string TimeSchema = """{"type":"object","properties":{"city":{"enum":["Lima","Rome"]}}}""";

    private static OnnxGenAIModel Model => LoadedModels.Stories260K;

    [Fact]
    public async Task FunctionInvokingChatClient_invokes_a_required_call_with_valid_arguments_then_gets_a_text_answer()
    {
        var weather = new RecordingFunction("get_weather", "Weather in a city.", WeatherSchema, "Sunny.");
        var other = new RecordingFunction("get_time", "Local time.", TimeSchema, "Noon.");
        using var client = new ChatClientBuilder(new OnnxChatClient(Model)).UseFunctionInvocation().Build();
        var schema = Validator.FromText(WeatherSchema);

        foreach (string prompt in ConstrainedGenerationTests.Prompts)
        {
            int before = weather.Invocations.Count;
            var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, prompt)], new ChatOptions
            {
                Tools = [weather, other],
                ToolMode = ChatToolMode.RequireSpecific("get_weather"),
                Temperature = 1f,
                Seed = prompt.Length,
                MaxOutputTokens = 120,
            });

            // Round 1 called get_weather (required) and FunctionInvokingChatClient ran it; later rounds are Auto.
            var calls = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().ToList();
            var results = response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>().ToList();
            Assert.NotEmpty(calls);
            Assert.Equal("get_weather", calls[0].Name);
            Assert.Equal(calls.Count, results.Count);
            Assert.True(weather.Invocations.Count > before, $"get_weather was not invoked for '{prompt}'");
            Assert.Equal(calls.Select(c => c.CallId), results.Select(r => r.CallId));
            foreach (string arguments in weather.Invocations.Skip(before))
            {
                var evaluation = schema.Evaluate(JsonNode.Parse(arguments), new Json.Schema.EvaluationOptions { OutputFormat = Json.Schema.OutputFormat.List });
                Assert.True(evaluation.IsValid, $"arguments {arguments} for '{prompt}' do not validate against the tool schema");
            }

            // The conversation ends with the model's text answer, not with another call.
            var last = response.Messages[^1];
            Assert.Equal(ChatRole.Assistant, last.Role);
            Assert.DoesNotContain(last.Contents, c => c is FunctionCallContent);
            Assert.False(string.IsNullOrWhiteSpace(last.Text), $"no text answer after the tool result for '{prompt}'");
            Assert.NotEqual(ChatFinishReason.ToolCalls, response.FinishReason);
        }

        Assert.Empty(other.Invocations);
    }

    [Fact]
    public async Task RequireAny_with_parallel_calls_gives_only_offered_functions_with_valid_arguments_and_finish_reason_tool_calls()
    {
        var weather = new RecordingFunction("get_weather", "Weather in a city.", WeatherSchema, "Rain.");
        var time = new RecordingFunction("get_time", "Local time.", TimeSchema, "Noon.");
        var client = new OnnxChatClient(Model);
        var schemas = new Dictionary<string, Validator> { ["get_weather"] = Validator.FromText(WeatherSchema), ["get_time"] = Validator.FromText(time.JsonSchema.GetRawText()) };

        foreach (string prompt in ConstrainedGenerationTests.Prompts)
        {
            var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, prompt)], new ChatOptions
            {
                Tools = [weather, time],
                ToolMode = ChatToolMode.RequireAny,
                Temperature = 1f,
                Seed = prompt.Length + 1,
                MaxOutputTokens = 200,
            });

            var calls = response.Messages.Single().Contents.OfType<FunctionCallContent>().ToList();
            Assert.InRange(calls.Count, 1, ToolConstraints.MaxParallelCalls);
            Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
            Assert.Equal(calls.Count, calls.Select(c => c.CallId).Distinct().Count());
            foreach (var call in calls)
            {
                string arguments = JsonSerializer.Serialize(call.Arguments);
                Assert.True(schemas[call.Name].Evaluate(JsonNode.Parse(arguments)).IsValid, $"{call.Name} arguments {arguments} do not validate");
            }
        }

        Assert.Empty(weather.Invocations); // the client alone does not invoke: the calls are the answer
    }

    [Fact]
    public async Task Streaming_delivers_the_same_calls_as_the_non_streamed_answer_each_as_soon_as_it_is_complete()
    {
        var weather = new RecordingFunction("get_weather", "Weather in a city.", WeatherSchema, "Rain.");
        var time = new RecordingFunction("get_time", "Local time.", TimeSchema, "Noon.");
        var client = new OnnxChatClient(Model);
        foreach (string prompt in ConstrainedGenerationTests.Prompts.Take(6))
        {
            // Seeded sampling gives the same tokens streamed or not, so the same calls (one or several).
            var options = new ChatOptions { Tools = [weather, time], ToolMode = ChatToolMode.RequireAny, Temperature = 1f, Seed = prompt.Length, MaxOutputTokens = 160 };
            ChatMessage[] messages = [new(ChatRole.User, prompt)];
            var whole = await client.GetResponseAsync(messages, options);
            var updates = new List<ChatResponseUpdate>();
            await foreach (var update in client.GetStreamingResponseAsync(messages, options))
            {
                updates.Add(update);
            }

            var expected = whole.Messages.Single().Contents.OfType<FunctionCallContent>().ToList();
            var streamed = updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>().ToList();
            Assert.Equal(expected.Select(c => (c.Name, JsonSerializer.Serialize(c.Arguments))), streamed.Select(c => (c.Name, JsonSerializer.Serialize(c.Arguments))));

            // Each call comes in its own update before the end (the generic form's closing tag still follows it).
            var callUpdates = updates.Where(u => u.Contents.Any(c => c is FunctionCallContent)).ToList();
            Assert.All(callUpdates, u => Assert.Single(u.Contents.OfType<FunctionCallContent>()));
            Assert.All(callUpdates, u => Assert.Null(u.FinishReason));
            Assert.Equal(ChatFinishReason.ToolCalls, updates[^1].FinishReason);
            Assert.Equal("", string.Concat(updates.Select(u => u.Text))); // a required call leaves no text
            Assert.Equal(ChatFinishReason.ToolCalls, updates.ToChatResponse().FinishReason);
        }
    }

    [Fact]
    public async Task Auto_mode_lets_the_model_answer_in_text_and_None_does_not_offer_the_tools()
    {
        var weather = new RecordingFunction("get_weather", "Weather in a city.", WeatherSchema, "Rain.");
        var client = new OnnxChatClient(Model);
        ChatMessage[] prompt = [new(ChatRole.User, LoadedModels.ReferencePrompt)];
        var plain = await client.GetResponseAsync(prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 30 });

        // ToolMode.None: the tools are not rendered, so the prompt and the greedy answer are the plain ones.
        var none = await client.GetResponseAsync(prompt, new ChatOptions { Tools = [weather], ToolMode = ChatToolMode.None, Temperature = 0, MaxOutputTokens = 30 });
        Assert.Equal(plain.Text, none.Text);
        Assert.Equal(plain.Usage!.InputTokenCount, none.Usage!.InputTokenCount);

        // Auto: the greedy story text does not start with the marker, so the answer is that text (the prompt grows by the tool list).
        var auto = await client.GetResponseAsync(prompt, new ChatOptions { Tools = [weather], ToolMode = ChatToolMode.Auto, Temperature = 0, MaxOutputTokens = 30 });
        Assert.DoesNotContain(auto.Messages.Single().Contents, c => c is FunctionCallContent);
        Assert.False(string.IsNullOrWhiteSpace(auto.Text));
        Assert.True(auto.Usage!.InputTokenCount > plain.Usage.InputTokenCount);
        Assert.DoesNotContain(ToolCallFormats.Generic.Marker, auto.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_folder_with_Mistrals_real_template_gets_Mistral_calls_that_FunctionInvokingChatClient_runs()
    {
        // stories260K with Mistral-7B-Instruct-v0.3's chat_template: the folder template renders the tools, calls and
        // results; the call format is recognised from its [TOOL_CALLS] marker, so calls are decoded and parsed in Mistral's form.
        using var folder = TempModelFolder.CopyOf(TestModels.Stories260KFolder);
        string configPath = Path.Combine(folder.Path, LlmKit.Tokenization.TokenizerConfig.FileName);
        var config = JsonNode.Parse(File.ReadAllText(configPath))!;
        config["chat_template"] = ChatTemplateReferenceData.TemplateText("templates/mistral-7b-instruct-v0.3.jinja");
        File.WriteAllText(configPath, config.ToJsonString());
        using var model = OnnxGenAIModel.Load(folder.Path, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        var inner = new OnnxChatClient(model);
        Assert.Same(ToolCallFormats.Mistral, inner.Engine.ToolFormat);

        var weather = new RecordingFunction("get_weather", "Weather in a city.", WeatherSchema, "Sunny.");
        using var client = new ChatClientBuilder(inner).UseFunctionInvocation().Build();
        var schema = Validator.FromText(WeatherSchema);
        foreach (string prompt in ConstrainedGenerationTests.Prompts.Take(5))
        {
            var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, prompt)],
                new ChatOptions { Tools = [weather], ToolMode = ChatToolMode.RequireAny, Temperature = 1f, Seed = prompt.Length, MaxOutputTokens = 100 });

            var call = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().First();
            Assert.Matches("^[A-Za-z0-9]{9}$", call.CallId);
            Assert.True(schema.Evaluate(JsonNode.Parse(JsonSerializer.Serialize(call.Arguments))).IsValid);
            Assert.DoesNotContain(response.Messages[^1].Contents, c => c is FunctionCallContent);
        }

        Assert.True(weather.Invocations.Count >= 5);
    }

    /// <summary>An M.E.AI function with a hand-written schema that records the JSON arguments it is invoked with.</summary>
    internal sealed class RecordingFunction(string name, string description, string schema, string result) : AIFunction
    {
        private readonly JsonElement _schema = JsonDocument.Parse(schema).RootElement.Clone();

        public List<string> Invocations { get; } = [];

        public override string Name => name;

        public override string Description => description;

        public override JsonElement JsonSchema => _schema;

        protected override ValueTask<object?> InvokeCoreAsync(AIFunctionArguments arguments, CancellationToken cancellationToken)
        {
            lock (Invocations)
            {
                Invocations.Add(JsonSerializer.Serialize(arguments.ToDictionary(p => p.Key, p => p.Value)));
            }

            return ValueTask.FromResult<object?>(result);
        }
    }
}
