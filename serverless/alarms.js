// The stack's CloudWatch alarms, to one SNS topic (with an e-mail subscription when the
// `alarmEmail` stage parameter is set). Written as code, not YAML, because the spike
// alarms are one pair per category and the categories come from the rules file (or the
// `alarmCategories` parameter), checked here so a typo fails the deploy instead of
// leaving a topic unwatched.
//
//   resources:
//     - ${file(./alarms.js):resources}
//   environment:
//     METRICS_CATEGORIES: ${file(./alarms.js):categories}
//
// What each alarm watches, and why, is in the README's "Alarms" section; serverless/check
// asserts every alarm and its metric on the packaged template.
const fs = require('fs');
const path = require('path');

// The transform's EMF namespace (transform/src/metrics.rs).
const NAMESPACE = 'SocialSentiment/Transform';

async function params(resolveVariable) {
  const get = async (name) => String(await resolveVariable(`param:${name}`)).trim();
  const number = async (name, { min, max }) => {
    const text = await get(name);
    const value = Number(text);
    if (text === '' || !Number.isFinite(value) || value < min || value > max) {
      throw new Error(`alarms: parameter ${name}="${text}" is not a number from ${min} to ${max}`);
    }
    return value;
  };
  return {
    email: await get('alarmEmail'),
    rulesFile: await get('alarmRulesFile'),
    categories: await get('alarmCategories'),
    failedPercent: await number('processingFailedAlarmPercent', { min: 0, max: 100 }),
    freshnessSecs: await number('freshnessAlarmSecs', { min: 60, max: 86400 }),
    freeStorageMb: await number('freeStorageAlarmMb', { min: 1, max: 1e9 }),
    spikeBand: await number('spikeBandWidth', { min: 0.5, max: 20 }),
    sentimentBand: await number('sentimentBandWidth', { min: 0.5, max: 20 }),
  };
}

// The categories with their own metric series and spike alarms: `alarmCategories`
// (comma-separated), each of which must be a tag of the rules file, or else every tag.
function categoriesOf(p) {
  const file = path.resolve(__dirname, p.rulesFile);
  let rules;
  try {
    rules = JSON.parse(fs.readFileSync(file, 'utf8')).rules;
  } catch (err) {
    throw new Error(`alarms: parameter alarmRulesFile="${p.rulesFile}": ${err.message}`);
  }
  if (!Array.isArray(rules) || rules.some((r) => typeof r.tag !== 'string' || r.tag === '')) {
    throw new Error(`alarms: parameter alarmRulesFile="${p.rulesFile}": expected {"rules": [{"tag": ...}, ...]}`);
  }
  const tags = rules.map((r) => r.tag);
  const wanted = p.categories === '' ? tags : p.categories.split(',').map((c) => c.trim()).filter(Boolean);
  for (const c of wanted) {
    if (!tags.includes(c)) {
      throw new Error(`alarms: parameter alarmCategories names "${c}", which is not a tag of ${p.rulesFile} (tags: ${tags.join(', ')})`);
    }
  }
  const ids = new Map();
  for (const c of wanted) {
    const id = c.replace(/[^A-Za-z0-9]/g, '').replace(/^./, (ch) => ch.toUpperCase());
    if (id === '' || ids.has(id)) {
      throw new Error(`alarms: category "${c}" gives the resource name "${id}"${ids.has(id) ? `, as "${ids.get(id)}" does` : ''}; rename the tag`);
    }
    ids.set(id, c);
  }
  return [...ids].map(([id, name]) => ({ id, name }));
}

const topic = { Ref: 'AlarmTopic' };
const stream = { Ref: 'DeliveryStream' };

function alarm(description, props) {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmDescription: description,
      ActionsEnabled: true,
      AlarmActions: [topic],
      OKActions: [topic],
      TreatMissingData: 'notBreaching',
      ...props,
    },
  };
}

// One metric of a metric-math alarm.
function stat(id, namespace, name, dimensions, statistic, period) {
  return {
    Id: id,
    ReturnData: false,
    MetricStat: {
      Metric: {
        Namespace: namespace,
        MetricName: name,
        Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
      },
      Period: period,
      Stat: statistic,
    },
  };
}

function resources(p, categories) {
  const r = {
    AlarmTopic: {
      Type: 'AWS::SNS::Topic',
      Properties: { DisplayName: { 'Fn::Sub': 'social-sentiment alarms (${AWS::StackName})' } },
    },
  };
  if (p.email !== '') {
    r.AlarmEmailSubscription = {
      Type: 'AWS::SNS::Subscription',
      Properties: { TopicArn: topic, Protocol: 'email', Endpoint: p.email },
    };
  }
  const fn = { FunctionName: { Ref: 'TransformLambdaFunction' } };
  const ds = { DeliveryStreamName: stream };
  const domain = { DomainName: { Ref: 'SearchDomain' }, ClientId: { Ref: 'AWS::AccountId' } };
  const simple = (namespace, name, dimensions, statistic, op, threshold, period = 300, periods = 1) => ({
    Namespace: namespace,
    MetricName: name,
    Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
    Statistic: statistic,
    Period: period,
    EvaluationPeriods: periods,
    ComparisonOperator: op,
    Threshold: threshold,
  });

  r.TransformErrorsAlarm = alarm(
    'The transform Lambda failed an invocation (Firehose retries it, then sends the batch to processing-failed/)',
    simple('AWS/Lambda', 'Errors', fn, 'Sum', 'GreaterThanOrEqualToThreshold', 1),
  );
  r.TransformThrottlesAlarm = alarm(
    'The transform Lambda was throttled (concurrency limit): delivery falls behind',
    simple('AWS/Lambda', 'Throttles', fn, 'Sum', 'GreaterThanOrEqualToThreshold', 1),
  );
  r.ProcessingFailedShareAlarm = alarm(
    `More than ${p.failedPercent}% of the records the transform saw came back ProcessingFailed (they are in the backup bucket)`,
    {
      Metrics: [
        stat('failed', NAMESPACE, 'ProcessingFailed', { DeliveryStream: stream }, 'Sum', 300),
        stat('records', NAMESPACE, 'Records', { DeliveryStream: stream }, 'Sum', 300),
        { Id: 'share', Expression: 'IF(records > 0, 100 * failed / records, 0)', Label: 'ProcessingFailed %', ReturnData: true },
      ],
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: p.failedPercent,
    },
  );
  r.DeliverySuccessAlarm = alarm(
    'Firehose could not index every document into OpenSearch (the rest go to the backup bucket after the retry duration)',
    simple('AWS/Firehose', 'DeliveryToAmazonOpenSearchService.Success', ds, 'Minimum', 'LessThanThreshold', 1),
  );
  r.DeliveryFreshnessAlarm = alarm(
    `The oldest record waiting in Firehose is older than ${p.freshnessSecs} s: the dashboards are behind`,
    simple('AWS/Firehose', 'DeliveryToAmazonOpenSearchService.DataFreshness', ds, 'Maximum', 'GreaterThanThreshold', p.freshnessSecs),
  );
  r.BackupRecordsAlarm = alarm(
    'Records were written to the backup bucket (failed documents or processing-failed/): read them with `producer failed list`',
    simple('AWS/Firehose', 'DeliveryToS3.Records', ds, 'Sum', 'GreaterThanOrEqualToThreshold', 1),
  );
  r.SentimentFallbackAlarm = alarm(
    'Amazon Comprehend failed and the transform scored posts with VADER instead (only with sentimentBackend: comprehend)',
    simple(NAMESPACE, 'SentimentFallback', { DeliveryStream: stream }, 'Sum', 'GreaterThanOrEqualToThreshold', 1),
  );
  r.ClusterRedAlarm = alarm(
    'The OpenSearch domain is red: at least one primary shard is unassigned, delivery fails',
    simple('AWS/ES', 'ClusterStatus.red', domain, 'Maximum', 'GreaterThanOrEqualToThreshold', 1, 60, 1),
  );
  r.FreeStorageAlarm = alarm(
    `The OpenSearch domain has less than ${p.freeStorageMb} MB free: it blocks writes at its flood stage (lower retentionDays or raise searchVolumeGb)`,
    simple('AWS/ES', 'FreeStorageSpace', domain, 'Minimum', 'LessThanOrEqualToThreshold', p.freeStorageMb, 300, 1),
  );

  for (const c of categories) {
    const dims = { DeliveryStream: stream, Category: c.name };
    // Volume against its own baseline: above the upper edge of the anomaly band in 2 of
    // 3 five-minute periods (the seed's fixed 20,000 knows nothing of the topic's size).
    r[`PostsSpike${c.id}Alarm`] = alarm(
      `Posts about "${c.name}" are above their usual volume (anomaly band ${p.spikeBand} standard deviations)`,
      {
        Metrics: [
          { ...stat('posts', NAMESPACE, 'Posts', dims, 'Sum', 300), ReturnData: true },
          { Id: 'band', Expression: `ANOMALY_DETECTION_BAND(posts, ${p.spikeBand})`, Label: 'usual volume', ReturnData: true },
        ],
        ThresholdMetricId: 'band',
        ComparisonOperator: 'GreaterThanUpperThreshold',
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
      },
    );
    // Mean sentiment (sum of scores over scored posts) below the lower edge of its band
    // for two 15-minute periods in a row.
    r[`SentimentDrop${c.id}Alarm`] = alarm(
      `Mean sentiment of "${c.name}" posts dropped below its usual range (anomaly band ${p.sentimentBand} standard deviations)`,
      {
        Metrics: [
          stat('scores', NAMESPACE, 'SentimentSum', dims, 'Sum', 900),
          stat('scored', NAMESPACE, 'SentimentScored', dims, 'Sum', 900),
          { Id: 'mean', Expression: 'scores / scored', Label: 'mean sentiment', ReturnData: true },
          { Id: 'band', Expression: `ANOMALY_DETECTION_BAND(mean, ${p.sentimentBand})`, Label: 'usual mean sentiment', ReturnData: true },
        ],
        ThresholdMetricId: 'band',
        ComparisonOperator: 'LessThanLowerThreshold',
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
      },
    );
  }
  return r;
}

module.exports = async ({ resolveVariable }) => {
  const p = await params(resolveVariable);
  const categories = categoriesOf(p);
  return {
    categories: categories.map((c) => c.name).join(','),
    resources: {
      Resources: resources(p, categories),
      Outputs: {
        AlarmTopicArn: { Description: 'The SNS topic every alarm notifies (subscribe more endpoints to it)', Value: topic },
      },
    },
  };
};
