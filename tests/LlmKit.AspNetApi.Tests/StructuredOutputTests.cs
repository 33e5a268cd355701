using System.ClientModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenAI.Chat;
using Validator = Json.Schema.JsonSchema;

namespace LlmKit.AspNetApi.Tests;

/// <summary>
/// <c>response_format</c> over HTTP with the real OpenAI .NET client on stories260K: json_schema (strict) answers
/// validate against the schema (JsonSchema.Net), json_object answers parse, streamed or not.
/// </summary>
[Collection(SharedAppCollection.Name)]
public sealed class StructuredOutputTests(SharedApp shared)
{
    private const string PersonSchema =
        """{"type":"object","properties":{"name":{"type":"string","maxLength":10},"age":{"type":"integer","minimum":0,"maximum":99},"pet":{"type":"object","properties":{"kind":{"enum":["cat","dog"]}},"required":["kind"],"additionalProperties":false}},"required":["name","age","pet"],"additionalProperties":false}""";

    private static readonly string[] Prompts = ["Once upon a time", "The cat", "Tom had a dog", "Lily went to the park", "One day"];

    private ChatClient Client => new("stories260K", new ApiKeyCredential("not-needed"), shared.App.ClientOptions());

    [Fact]
    public async Task Json_schema_answers_validate_against_the_schema()
    {
        var schema = Validator.FromText(PersonSchema);
        var format = ChatResponseFormat.CreateJsonSchemaFormat("person", BinaryData.FromString(PersonSchema), jsonSchemaIsStrict: true);
        for (int i = 0; i < Prompts.Length; i++)
        {
            // Seeds make a failure reproducible; the client marks Seed experimental (OPENAI001).
#pragma warning disable OPENAI001
            var options = new ChatCompletionOptions { ResponseFormat = format, Temperature = 1f, Seed = i, MaxOutputTokenCount = 150 };
#pragma warning restore OPENAI001

            ChatCompletion completion = await Client.CompleteChatAsync([new UserChatMessage(Prompts[i])], options);

            string text = completion.Content[0].Text;
            Assert.True(schema.Evaluate(JsonNode.Parse(text)).IsValid, $"'{text}' does not validate against the schema");
        }
    }

    [Fact]
    public async Task Json_object_answers_parse_streamed_or_not()
    {
        var options = new ChatCompletionOptions { ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat(), Temperature = 0, MaxOutputTokenCount = 60 };
        OpenAI.Chat.ChatMessage[] messages = [new UserChatMessage("The cat")];

        ChatCompletion completion = await Client.CompleteChatAsync(messages, options);
        var streamed = new System.Text.StringBuilder();
        await foreach (var update in Client.CompleteChatStreamingAsync(messages, options))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
        }

        using var document = JsonDocument.Parse(completion.Content[0].Text);
        Assert.Equal(completion.Content[0].Text, streamed.ToString());
    }
}
