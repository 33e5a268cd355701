using System.Text.Json;
using LlmKit.Models;
using LlmKit.Tests.Generation.Constraints;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmKit.Tests.Chat;

/// <summary>
/// Structured-output requests through the M.E.AI chat client (response formats compile to constraints) batch with
/// free ones, and each reply is the one the request gets with batching off. Real stories260K in the official GQA form.
/// </summary>
public class BatchedStructuredOutputTests
{
    private static readonly string[] Questions = ["Once upon a time", "Tom had a big dog", "The little bird sang", "Lily saw a cat"];

    [Fact]
    public async Task Overlapping_json_schema_json_and_free_requests_share_decode_runs_and_reply_as_alone()
    {
        await using var batched = BatchedChatTests.Services(maxBatchSize: 4);
        await using var alone = BatchedChatTests.Services(maxBatchSize: 1);
        var model = batched.GetRequiredService<OnnxGenAIModel>();
        Assert.Equal(4, model.MaxBatchSize);

        var schema = ChatResponseFormat.ForJsonSchema(JsonDocument.Parse(JsonSchemaConstraintTests.NestedSchema).RootElement.Clone(), "pet");
        ChatResponseFormat?[] formats = [schema, ChatResponseFormat.Json, null, schema];
        var options = Questions.Select((_, i) => new ChatOptions { Temperature = 1f, Seed = 30 + i, MaxOutputTokens = 120, ResponseFormat = formats[i] }).ToArray();

        var client = batched.GetRequiredService<IChatClient>();
        var replies = await Task.WhenAll(Questions.Select((q, i) => client.GetResponseAsync(q, options[i])));

        var aloneClient = alone.GetRequiredService<IChatClient>();
        for (int i = 0; i < Questions.Length; i++)
        {
            var expected = await aloneClient.GetResponseAsync(Questions[i], options[i]);
            Assert.Equal(expected.Text, replies[i].Text);
            Assert.Equal(expected.FinishReason, replies[i].FinishReason);
        }

        using var _ = JsonDocument.Parse(replies[0].Text);
        var scheduler = model.Scheduler();
        Assert.True(scheduler.DecodedRows > scheduler.DecodeRuns, "the overlapping requests never shared a decode run");
    }
}
