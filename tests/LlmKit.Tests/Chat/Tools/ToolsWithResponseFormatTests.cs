using System.Text.Json;
using System.Text.Json.Nodes;
using LlmKit.Chat;
using LlmKit.Chat.Tools;
using LlmKit.Models;
using LlmKit.Testing;
using LlmKit.Tests.Generation.Constraints;
using Microsoft.Extensions.AI;
using static LlmKit.Tests.Chat.Tools.ToolCallingEndToEndTests;
using Validator = Json.Schema.JsonSchema;

namespace LlmKit.Tests.Chat.Tools;

/// <summary>
/// Tools and a response format in one request, on stories260K (LlmKit's generic call form): an automatic turn answers in
/// the format or calls, a required call ignores the format, and a format whose answers could start like a call is
/// refused. Answers and arguments are checked by an independent validator (JsonSchema.Net).
/// </summary>
public class ToolsWithResponseFormatTests
{
    /// <summary>Short: the second round's prompt holds the tools, the call and its result within the 512-token context.</summary>
    private const string AnswerSchema = """{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"additionalProperties":false}""";

    private static OnnxGenAIModel Model => LoadedModels.Stories260K;

    private static ChatResponseFormat AnswerFormat { get; } = ChatResponseFormat.ForJsonSchema(JsonDocument.Parse(AnswerSchema).RootElement.Clone(), "answer");

    [Fact]
    public void The_automatic_constraint_is_the_format_or_the_marker_and_calls()
    {
        var tools = new ToolRequest(ToolCallFormats.Generic, [new("get_weather", "Weather.", WeatherSchema)], ToolChoice.Auto, null, Parallel: false);
        var format = LlmKit.Generation.Constraints.OutputConstraint.JsonSchema(AnswerSchema);
        var constraint = ToolConstraints.Apply(new LlmKit.Generation.GenerationOptions { Constraint = format }, tools)!.Constraint!;
        var automaton = Model.GetConstraintAutomaton(constraint);
        bool Complete(string text) => automaton.Advance(automaton.Start, System.Text.Encoding.UTF8.GetBytes(text)) is int state and >= 0 && automaton.IsAccepting(state);

        string call = ToolCallFormats.Generic.Opening + "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"days\": 2}}" + ToolCallFormats.Generic.Closing;
        Assert.True(Complete("{\"ok\": true}"), "an answer in the format");
        Assert.True(Complete(call), "a call: " + call);
        Assert.False(Complete("Sunny today."), "free text is not in the format");
        Assert.False(Complete("{\"ok\": 1}"), "an answer outside the format");
        Assert.Same(constraint, ToolConstraints.Apply(new LlmKit.Generation.GenerationOptions { Constraint = format }, tools)!.Constraint);
    }

    [Fact]
    public async Task A_required_call_is_invoked_and_the_final_answer_is_in_the_response_format()
    {
        var weather = new RecordingFunction("get_weather", "Weather in a city.", WeatherSchema, "Sunny.");
        using var client = new ChatClientBuilder(new OnnxChatClient(Model)).UseFunctionInvocation().Build();
        var answer = Validator.FromText(AnswerSchema);
        var arguments = Validator.FromText(WeatherSchema);
        foreach (string prompt in ConstrainedGenerationTests.Prompts)
        {
            int before = weather.Invocations.Count;
            var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, prompt)], new ChatOptions
            {
                Tools = [weather],
                ToolMode = ChatToolMode.RequireAny,
                ResponseFormat = AnswerFormat,
                Temperature = 1f,
                Seed = prompt.Length,
                MaxOutputTokens = 120,
            });

            // Round 1 must call (the format is for answers); FunctionInvokingChatClient then asks again in Auto mode,
            // where the reply is the format or another call, until an answer comes.
            Assert.True(weather.Invocations.Count > before, $"get_weather was not invoked for '{prompt}': " + string.Join(" || ", response.Messages.Select(m => m.Role + ": " + string.Join(" | ", m.Contents.Select(c => c.GetType().Name + ":" + (c as TextContent)?.Text)))) + " finish " + response.FinishReason);
            foreach (string given in weather.Invocations.Skip(before))
            {
                Assert.True(arguments.Evaluate(JsonNode.Parse(given)).IsValid, $"arguments {given} for '{prompt}' do not validate");
            }

            var last = response.Messages[^1];
            Assert.DoesNotContain(last.Contents, c => c is FunctionCallContent);
            Assert.True(answer.Evaluate(JsonNode.Parse(last.Text)).IsValid, $"final answer '{last.Text}' for '{prompt}' is not in the response format");
        }
    }

    [Fact]
    public async Task An_automatic_turn_gives_either_calls_with_valid_arguments_or_an_answer_in_the_format()
    {
        var weather = new RecordingFunction("get_weather", "Weather in a city.", WeatherSchema, "Rain.");
        var client = new OnnxChatClient(Model);
        var answer = Validator.FromText(AnswerSchema);
        var arguments = Validator.FromText(WeatherSchema);
        int called = 0, answered = 0;
        foreach (string prompt in ConstrainedGenerationTests.Prompts)
        {
            var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, prompt)], new ChatOptions
            {
                Tools = [weather],
                ToolMode = ChatToolMode.Auto,
                ResponseFormat = AnswerFormat,
                Temperature = 1f,
                Seed = prompt.Length + 7,
                MaxOutputTokens = 120,
            });

            var calls = response.Messages.Single().Contents.OfType<FunctionCallContent>().ToList();
            if (calls.Count > 0)
            {
                called++;
                Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
                Assert.All(calls, call => Assert.True(arguments.Evaluate(JsonNode.Parse(JsonSerializer.Serialize(call.Arguments))).IsValid));
            }
            else
            {
                answered++;
                Assert.True(answer.Evaluate(JsonNode.Parse(response.Text)).IsValid, $"answer '{response.Text}' for '{prompt}' is not in the response format");
            }
        }

        // stories260K starts every reply with '{' here (its byte '<' is far less likely, even at temperature 4), so this
        // checks the answer branch end to end; the call branch's language is checked above and its decoding in the
        // required-call test.
        Assert.Equal(ConstrainedGenerationTests.Prompts.Length, called + answered);
        Assert.True(answered > 0);
    }

    [Fact]
    public async Task A_format_whose_answers_may_start_like_a_call_is_refused_in_auto_mode_and_ignored_when_a_call_is_required()
    {
        // Llama 3.1 calls are bare {"name": "...", "parameters": ...} objects: a JSON object answer could begin the same way.
        var weather = new RecordingFunction("get_weather", "Weather in a city.", WeatherSchema, "Rain.");
        var client = new OnnxChatClient(Model, new OnnxChatClientOptions { ToolCallFormat = ToolCallFormats.Llama3Json });
        ChatOptions JsonWith(ChatToolMode mode) => new() { Tools = [weather], ToolMode = mode, ResponseFormat = ChatResponseFormat.Json, MaxOutputTokens = 120, Temperature = 0f };

        var refused = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync("Tell me.", JsonWith(ChatToolMode.Auto)));
        Assert.Contains("call marker", refused.Message);

        var required = await client.GetResponseAsync("Tell me.", JsonWith(ChatToolMode.RequireAny));
        Assert.Equal(ChatFinishReason.ToolCalls, required.FinishReason);

        // A format that cannot begin like a call combines with the same family.
        var choice = new ChatOptions
        {
            Tools = [weather],
            ToolMode = ChatToolMode.Auto,
            MaxOutputTokens = 120,
            Temperature = 1f,
            Seed = 3,
            AdditionalProperties = new() { ["output_constraint"] = LlmKit.Generation.Constraints.OutputConstraint.Choice(["yes", "no"]) },
        };
        var reply = await client.GetResponseAsync("Tell me.", choice);
        Assert.True(reply.FinishReason == ChatFinishReason.ToolCalls || reply.Text is "yes" or "no", $"reply '{reply.Text}'");
    }
}
