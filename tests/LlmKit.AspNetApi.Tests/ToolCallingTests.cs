using System.ClientModel;
using System.Text;
using System.Text.Json.Nodes;
using OpenAI.Chat;
using Validator = Json.Schema.JsonSchema;

namespace LlmKit.AspNetApi.Tests;

/// <summary>
/// Tool calling over HTTP with the real OpenAI .NET client (OpenAI.Chat.ChatClient) against the running app on
/// stories260K: the call's arguments are parsed and validated against the tool schema by an independent validator
/// (JsonSchema.Net), a tool message round-trips, and streaming delivers the same call in OpenAI's delta shape.
/// </summary>
[Collection(SharedAppCollection.Name)]
public sealed class ToolCallingTests(SharedApp shared)
{
    private const string WeatherSchema =
        """{"type":"object","properties":{"city":{"enum":["Paris","Oslo"]},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"]}""";

    private const string TimeSchema = """{"type":"object","properties":{"city":{"enum":["Lima","Rome"]}},"required":["city"]}""";

    private static readonly ChatTool Weather = ChatTool.CreateFunctionTool("get_weather", "Weather in a city.", BinaryData.FromString(WeatherSchema));

    private static readonly ChatTool Time = ChatTool.CreateFunctionTool("get_time", "Local time.", BinaryData.FromString(TimeSchema));

    private ChatClient Client => new("stories260K", new ApiKeyCredential("not-needed"), shared.App.ClientOptions());

    [Fact]
    public async Task A_required_tool_call_comes_back_with_arguments_that_validate_and_its_result_gets_a_text_answer()
    {
        var options = new ChatCompletionOptions { Tools = { Weather, Time }, ToolChoice = ChatToolChoice.CreateRequiredChoice(), Temperature = 0, MaxOutputTokenCount = 120 };
        List<OpenAI.Chat.ChatMessage> messages = [new UserChatMessage("Once upon a time")];

        ChatCompletion completion = await Client.CompleteChatAsync(messages, options);

        Assert.Equal(OpenAI.Chat.ChatFinishReason.ToolCalls, completion.FinishReason);
        var call = Assert.Single(completion.ToolCalls);
        Assert.Equal(ChatToolCallKind.Function, call.Kind);
        Assert.False(string.IsNullOrEmpty(call.Id));
        Assert.Contains(call.FunctionName, new[] { "get_weather", "get_time" });
        var schema = Validator.FromText(call.FunctionName == "get_weather" ? WeatherSchema : TimeSchema);
        Assert.True(schema.Evaluate(JsonNode.Parse(call.FunctionArguments.ToString())).IsValid, $"arguments {call.FunctionArguments} do not validate");

        // The assistant's call and the tool's result go back; with tool_choice auto the model answers in text.
        messages.Add(new AssistantChatMessage(completion));
        messages.Add(new ToolChatMessage(call.Id, "Sunny."));
        ChatCompletion answer = await Client.CompleteChatAsync(messages, new ChatCompletionOptions { Tools = { Weather, Time }, Temperature = 0, MaxOutputTokenCount = 40 });

        Assert.Empty(answer.ToolCalls);
        Assert.False(string.IsNullOrWhiteSpace(answer.Content[0].Text));
    }

    [Fact]
    public async Task Tools_and_a_json_schema_response_format_give_a_required_call_then_an_answer_in_the_format()
    {
        const string answerSchema = """{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"additionalProperties":false}""";
        var format = ChatResponseFormat.CreateJsonSchemaFormat("answer", BinaryData.FromString(answerSchema), jsonSchemaIsStrict: true);
        var options = new ChatCompletionOptions { Tools = { Weather }, ToolChoice = ChatToolChoice.CreateRequiredChoice(), ResponseFormat = format, Temperature = 0, MaxOutputTokenCount = 120 };
        List<OpenAI.Chat.ChatMessage> messages = [new UserChatMessage("Once upon a time")];

        ChatCompletion completion = await Client.CompleteChatAsync(messages, options);

        // A required call ignores the format (it shapes answers); the next, automatic turn answers in the format.
        var call = Assert.Single(completion.ToolCalls);
        Assert.True(Validator.FromText(WeatherSchema).Evaluate(JsonNode.Parse(call.FunctionArguments.ToString())).IsValid, $"arguments {call.FunctionArguments} do not validate");
        messages.Add(new AssistantChatMessage(completion));
        messages.Add(new ToolChatMessage(call.Id, "Sunny."));
        ChatCompletion answer = await Client.CompleteChatAsync(messages, new ChatCompletionOptions { Tools = { Weather }, ResponseFormat = format, Temperature = 0, MaxOutputTokenCount = 60 });

        Assert.Empty(answer.ToolCalls);
        Assert.True(Validator.FromText(answerSchema).Evaluate(JsonNode.Parse(answer.Content[0].Text)).IsValid, $"answer '{answer.Content[0].Text}' is not in the format");
    }

    [Fact]
    public async Task A_named_function_choice_calls_that_function()
    {
        var options = new ChatCompletionOptions { Tools = { Weather, Time }, ToolChoice = ChatToolChoice.CreateFunctionChoice("get_time"), Temperature = 0, MaxOutputTokenCount = 80 };

        ChatCompletion completion = await Client.CompleteChatAsync([new UserChatMessage("The cat")], options);

        var call = Assert.Single(completion.ToolCalls);
        Assert.Equal("get_time", call.FunctionName);
        Assert.True(Validator.FromText(TimeSchema).Evaluate(JsonNode.Parse(call.FunctionArguments.ToString())).IsValid);
    }

    [Fact]
    public async Task Streaming_delivers_the_same_call_as_id_and_name_then_argument_pieces()
    {
        var options = new ChatCompletionOptions { Tools = { Weather }, ToolChoice = ChatToolChoice.CreateRequiredChoice(), Temperature = 0, MaxOutputTokenCount = 120 };
        OpenAI.Chat.ChatMessage[] messages = [new UserChatMessage("Lily went to the park")];
        ChatCompletion whole = await Client.CompleteChatAsync(messages, options);

        var updates = new List<StreamingChatToolCallUpdate>();
        OpenAI.Chat.ChatFinishReason? finish = null;
        await foreach (var update in Client.CompleteChatStreamingAsync(messages, options))
        {
            updates.AddRange(update.ToolCallUpdates);
            finish ??= update.FinishReason;
        }

        var expected = Assert.Single(whole.ToolCalls);
        Assert.Equal(OpenAI.Chat.ChatFinishReason.ToolCalls, finish);
        Assert.All(updates, u => Assert.Equal(0, u.Index));
        Assert.Equal(expected.FunctionName, updates[0].FunctionName);
        Assert.False(string.IsNullOrEmpty(updates[0].ToolCallId));
        Assert.True(updates.Count > 2, "the arguments should arrive in several pieces");
        var arguments = new StringBuilder();
        foreach (var update in updates)
        {
            arguments.Append(update.FunctionArgumentsUpdate?.ToString());
        }

        Assert.Equal(expected.FunctionArguments.ToString(), arguments.ToString());
    }
}
